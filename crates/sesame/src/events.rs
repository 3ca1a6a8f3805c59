//! Lifecycle events: a session was created, rotated, or ended (with reason).
//!
//! Subscribers implement [`EventSink`]; the manager calls them synchronously
//! after the store operation succeeded, so a sink must be quick and must not
//! block (hand the event to a channel for slow work such as webhooks). A touch
//! is not an event. Expiry is reported once, by the load or cleanup pass that
//! ended the session — never from store-side notifications.

use crate::lifecycle::EndReason;
use crate::token::SessionId;
use crate::user::UserId;

/// Something that happened to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A session was created.
    Created {
        /// Its id.
        id: SessionId,
        /// Its user, if any.
        user_id: Option<UserId>,
    },
    /// A session continues under a new id; the old id ended with `Rotated`.
    Rotated {
        /// The old id.
        from: SessionId,
        /// The new id.
        to: SessionId,
        /// The user after rotation.
        user_id: Option<UserId>,
    },
    /// A session ended.
    Ended {
        /// Its id.
        id: SessionId,
        /// Its user, if any.
        user_id: Option<UserId>,
        /// Why.
        reason: EndReason,
    },
}

/// A subscriber to lifecycle events.
pub trait EventSink: Send + Sync + 'static {
    /// Called once per event, after the change is stored.
    fn on_event(&self, event: &SessionEvent);
}

impl<F> EventSink for F
where
    F: Fn(&SessionEvent) + Send + Sync + 'static,
{
    fn on_event(&self, event: &SessionEvent) {
        self(event)
    }
}

/// An [`EventSink`] that keeps every event, for tests and debugging.
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: parking_lot::Mutex<Vec<SessionEvent>>,
}

impl RecordingSink {
    /// A new, empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<SessionEvent> {
        self.events.lock().clone()
    }

    /// The end reasons reported so far, in order.
    pub fn end_reasons(&self) -> Vec<EndReason> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Ended { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

impl EventSink for RecordingSink {
    fn on_event(&self, event: &SessionEvent) {
        self.events.lock().push(event.clone());
    }
}
