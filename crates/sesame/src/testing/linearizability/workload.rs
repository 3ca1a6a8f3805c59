//! Recording a history: many clients issue random operations against one
//! store at once, each noting when it asked and when it learned the answer.
//!
//! Every client picks a user, then an operation and one of that user's recent
//! sessions; new ids (creates, rotations) join the user's pool as soon as
//! their call answers, as a token reaches the browser, and from then on
//! other clients race on them. After
//! the clients finish, one reader loads every session once, so a lost write
//! that nothing read yet still shows.
//!
//! With [`Faults`], some calls are abandoned after a short random delay (the
//! future is dropped, as a client timeout does): the store may or may not have
//! applied them, and the history says so ([`Outcome::Unknown`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::history::{Entry, History, Op, Outcome};
use crate::clock::{Clock, SystemClock};
use crate::data::{Data, Patch};
use crate::device::DeviceInfo;
use crate::error::Error;
use crate::lifecycle::EndReason;
use crate::policy::{CapAction, UserCap};
use crate::store::{LoadMode, Lookup, Rotation, SessionRecord, Store, Timing};
use crate::token::SessionId;
use crate::user::UserId;

/// The relative weights of the operations a client picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// `create`.
    pub create: u32,
    /// `load`.
    pub load: u32,
    /// `update` without a version.
    pub update: u32,
    /// `update` with `expected_version` (the last version this client saw).
    pub compare_and_set: u32,
    /// `increment`.
    pub increment: u32,
    /// `rotate`.
    pub rotate: u32,
    /// `end`.
    pub end: u32,
    /// `end_user`.
    pub end_user: u32,
}

impl Mix {
    /// Every operation, weighted like a busy site with logins and logouts.
    pub const ALL: Mix = Mix {
        create: 14,
        load: 24,
        update: 10,
        compare_and_set: 10,
        increment: 20,
        rotate: 8,
        end: 10,
        end_user: 4,
    };

    /// Operations on one session at a time: everything but `end_user`.
    /// With caps that never bind ([`Workload::per_session`]) no operation
    /// reaches across sessions, which is what every store promises; a
    /// store whose cap, eviction and "log out everywhere" are several steps
    /// (Redis Cluster, Memcached) is held to this.
    pub const PER_SESSION: Mix = Mix {
        end_user: 0,
        ..Mix::ALL
    };

    /// Creates, loads and increments only: nothing ends a session, so any
    /// lost increment shows in the final read.
    pub const COUNTERS: Mix = Mix {
        create: 5,
        load: 30,
        update: 0,
        compare_and_set: 0,
        increment: 65,
        rotate: 0,
        end: 0,
        end_user: 0,
    };

    fn total(&self) -> u32 {
        self.create
            + self.load
            + self.update
            + self.compare_and_set
            + self.increment
            + self.rotate
            + self.end
            + self.end_user
    }
}

/// Calls abandoned on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// One call in this many is abandoned.
    pub one_in: u32,
    /// After a random delay up to this.
    pub max_delay: Duration,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Concurrent clients.
    pub clients: usize,
    /// Operations each client issues.
    pub ops_per_client: usize,
    /// One user per cap; their operations are checked separately.
    pub caps: Vec<UserCap>,
    /// The operation mix.
    pub mix: Mix,
    /// Seed of the clients' choices (the interleaving is the scheduler's).
    pub seed: u64,
    /// Calls abandoned on purpose, if any.
    pub faults: Option<Faults>,
    /// A call that takes longer is abandoned and recorded as unknown.
    pub op_timeout: Duration,
}

impl Workload {
    /// 8 clients × 40 operations over 3 users (caps of 3: evicting,
    /// rejecting, evicting), every operation, no faults.
    pub fn standard(seed: u64) -> Self {
        let evict = UserCap {
            max: 3,
            on_limit: CapAction::EvictOldest,
        };
        let reject = UserCap {
            on_limit: CapAction::RejectNew,
            ..evict
        };
        Self {
            clients: 8,
            ops_per_client: 40,
            caps: vec![evict, reject, evict],
            mix: Mix::ALL,
            seed,
            faults: None,
            op_timeout: Duration::from_secs(10),
        }
    }

    /// [`Mix::PER_SESSION`] with caps of 1000 that never bind (one
    /// evicting user, one rejecting, one evicting).
    pub fn per_session(seed: u64) -> Self {
        let standard = Self::standard(seed);
        Self {
            caps: standard
                .caps
                .iter()
                .map(|c| UserCap { max: 1000, ..*c })
                .collect(),
            mix: Mix::PER_SESSION,
            ..standard
        }
    }

    /// This workload with one call in five abandoned after up to 2 ms.
    pub fn with_cancellations(self) -> Self {
        Self {
            faults: Some(Faults {
                one_in: 5,
                max_delay: Duration::from_millis(2),
            }),
            ..self
        }
    }
}

/// A small deterministic generator (SplitMix64): the choices need no
/// cryptographic quality, only a seed to replay them.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The sessions each user's clients pick from, newest last.
struct Pools {
    users: Vec<UserId>,
    ids: Vec<Mutex<Vec<SessionId>>>,
}

impl Pools {
    /// One of the user's six newest ids, if any.
    fn pick(&self, user: usize, rng: &mut Rng) -> Option<SessionId> {
        let ids = self.ids[user].lock();
        let recent = &ids[ids.len().saturating_sub(6)..];
        (!recent.is_empty()).then(|| recent[rng.below(recent.len() as u64) as usize])
    }

    fn add(&self, user: usize, id: SessionId) {
        self.ids[user].lock().push(id);
    }
}

fn new_id() -> SessionId {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS random number generator");
    SessionId::from_bytes(bytes)
}

/// The fixed instant and long timeouts of a history: nothing expires or is
/// touched while it runs.
fn timing() -> Timing {
    Timing {
        now: SystemClock.now(),
        idle_timeout: Duration::from_secs(3600),
        touch_interval: Duration::from_secs(3600),
        tombstone_ttl: Duration::from_secs(3600),
    }
}

const MAX_DATA_SIZE: usize = 64 * 1024;

/// Runs `workload` against `store` and returns what happened.
///
/// # Panics
/// If a client task panics (a bug in the harness, not in the store).
pub async fn record(store: Arc<dyn Store>, workload: &Workload) -> History {
    let suffix = super::super::unique_suffix();
    let users: Vec<UserId> = (0..workload.caps.len())
        .map(|u| UserId::new(format!("lin-{suffix}-{u}")).expect("a short user id"))
        .collect();
    let pools = Arc::new(Pools {
        ids: users.iter().map(|_| Mutex::new(Vec::new())).collect(),
        users,
    });
    let t = timing();
    let mut tasks = Vec::new();
    for client in 0..workload.clients {
        let store = store.clone();
        let pools = pools.clone();
        let workload = workload.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(workload.seed ^ (client as u64).wrapping_mul(0xA24B_AED4_963E_E407));
            let mut seen_version = 1;
            let mut entries = Vec::new();
            for _ in 0..workload.ops_per_client {
                let user = rng.below(pools.users.len() as u64) as usize;
                let op = choose_op(&workload, user, &pools, &mut rng, seen_version);
                let entry = call(&*store, client, &pools, user, op, &workload, &mut rng, &t).await;
                if let Outcome::Live { version, .. } | Outcome::Updated { version } = entry.outcome
                {
                    seen_version = version;
                }
                entries.push(entry);
            }
            entries
        }));
    }
    let mut history = History::default();
    for task in tasks {
        history
            .entries
            .extend(task.await.expect("a history client panicked"));
    }
    // The final read: every session once, by one reader.
    let reader = Workload {
        faults: None,
        ..workload.clone()
    };
    let mut rng = Rng(workload.seed);
    for user in 0..pools.users.len() {
        let ids = pools.ids[user].lock().clone();
        for id in ids {
            let entry = call(
                &*store,
                usize::MAX,
                &pools,
                user,
                Op::Load { id },
                &reader,
                &mut rng,
                &t,
            )
            .await;
            history.entries.push(entry);
        }
    }
    history
}

fn choose_op(w: &Workload, user: usize, pools: &Pools, rng: &mut Rng, seen: u64) -> Op {
    let cap = w.caps[user];
    let Some(id) = pools.pick(user, rng) else {
        return Op::Create { id: new_id(), cap };
    };
    let mut roll = rng.below(u64::from(w.mix.total())) as u32;
    let mut pick = |weight: u32| {
        let hit = roll < weight;
        roll = roll.saturating_sub(weight);
        hit
    };
    let m = w.mix;
    if pick(m.create) {
        Op::Create { id: new_id(), cap }
    } else if pick(m.load) {
        Op::Load { id }
    } else if pick(m.update) {
        Op::Update {
            id,
            key: format!("k{}", rng.below(3)),
            value: rng.below(1000) as i64,
            expected_version: None,
        }
    } else if pick(m.compare_and_set) {
        Op::Update {
            id,
            key: format!("k{}", rng.below(3)),
            value: rng.below(1000) as i64,
            expected_version: Some(seen),
        }
    } else if pick(m.increment) {
        Op::Increment {
            id,
            key: "n".to_owned(),
            delta: 1 + rng.below(3) as i64,
        }
    } else if pick(m.rotate) {
        Op::Rotate {
            from: id,
            to: new_id(),
            cap,
        }
    } else if pick(m.end) {
        Op::End {
            id,
            reason: EndReason::LoggedOut,
        }
    } else {
        Op::EndUser {
            reason: EndReason::Revoked,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn call(
    store: &dyn Store,
    client: usize,
    pools: &Pools,
    user: usize,
    op: Op,
    w: &Workload,
    rng: &mut Rng,
    t: &Timing,
) -> Entry {
    let limit = match w.faults {
        Some(f) if rng.below(u64::from(f.one_in)) == 0 => {
            let max = f.max_delay.as_micros().max(1) as u64;
            Duration::from_micros(rng.below(max))
        }
        _ => w.op_timeout,
    };
    let user_id = &pools.users[user];
    let invoked = Instant::now();
    let outcome = tokio::time::timeout(limit, apply(store, user_id, &op, t)).await;
    let completed = Instant::now();
    let outcome = outcome.unwrap_or(Outcome::Unknown);
    // A token reaches other clients only once its create or rotation has
    // answered, as in an application: a store may rely on nobody knowing
    // an id before then (both Memcached and Redis Cluster write the session
    // before they admit it to the user's index).
    match (&op, &outcome) {
        (Op::Create { id, .. }, Outcome::Created { .. })
        | (Op::Rotate { to: id, .. }, Outcome::Rotated { .. }) => pools.add(user, *id),
        _ => {}
    }
    Entry {
        client,
        user: user_id.as_str().to_owned(),
        completed: (outcome != Outcome::Unknown).then_some(completed),
        op,
        outcome,
        invoked,
    }
}

/// Issues one operation and reduces the answer to an [`Outcome`].
async fn apply(store: &dyn Store, user: &UserId, op: &Op, t: &Timing) -> Outcome {
    let result = match op {
        Op::Create { id, cap } => store
            .create(new_record(*id, user, t), Some(*cap), t)
            .await
            .map(|o| Outcome::Created { evicted: o.evicted }),
        Op::Load { id } => store.load(id, LoadMode::Touch, t).await.map(|l| match l {
            Lookup::Live(r) => live(&r.data, r.version),
            Lookup::Ended { tombstone, .. } => Outcome::Ended(tombstone.reason),
            Lookup::Missing => Outcome::Missing,
        }),
        Op::Update {
            id,
            key,
            value,
            expected_version,
        } => match Patch::new().set(key.clone(), value) {
            Ok(patch) => store
                .update(id, &patch, *expected_version, MAX_DATA_SIZE, t)
                .await
                .map(|r| Outcome::Updated { version: r.version }),
            Err(e) => Err(e),
        },
        Op::Increment { id, key, delta } => store
            .increment(id, key, *delta, MAX_DATA_SIZE, t)
            .await
            .map(Outcome::Incremented),
        Op::Rotate { from, to, cap } => {
            let rotation = Rotation {
                from: *from,
                to: *to,
                user_id: None,
                restart_absolute_expiry: None,
                grace: Duration::ZERO,
                cap: Some(*cap),
            };
            store.rotate(&rotation, t).await.map(|o| Outcome::Rotated {
                version: o.session.version,
                evicted: o.evicted,
            })
        }
        Op::End { id, reason } => store
            .end(id, *reason, t)
            .await
            .map(|e| Outcome::EndedOne(e.is_some())),
        Op::EndUser { reason } => store
            .end_user(user, None, *reason, t)
            .await
            .map(Outcome::EndedUser),
    };
    result.unwrap_or_else(refusal)
}

fn live(data: &Data, version: u64) -> Outcome {
    let mut ints = std::collections::BTreeMap::new();
    for (k, v) in data {
        match v.as_i64() {
            Some(n) => ints.insert(k.clone(), n),
            None => return Outcome::Unexpected(format!("value {v} at {k:?}")),
        };
    }
    Outcome::Live {
        version,
        data: ints,
    }
}

fn refusal(e: Error) -> Outcome {
    match e {
        Error::Ended { reason } => Outcome::Ended(reason),
        Error::NotFound => Outcome::Missing,
        Error::Conflict { current_version } => Outcome::Conflict { current_version },
        Error::LimitReached => Outcome::LimitReached,
        Error::StoreUnavailable(_) => Outcome::Unknown,
        other => Outcome::Unexpected(other.to_string()),
    }
}

fn new_record(id: SessionId, user: &UserId, t: &Timing) -> SessionRecord {
    SessionRecord {
        id,
        user_id: Some(user.clone()),
        data: Data::new(),
        version: 1,
        created_at: t.now,
        token_issued_at: t.now,
        last_accessed: t.now,
        idle_expires_at: t.now.plus(t.idle_timeout),
        absolute_expires_at: t.now.plus(Duration::from_secs(86_400)),
        device: DeviceInfo::default(),
        dbsc: None,
    }
}
