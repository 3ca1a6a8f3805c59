//! The Lua scripts, each `lua/lib.lua` followed by the operation's file.
//!
//! `redis::Script` calls a script by its SHA-1 (`EVALSHA`) and, on
//! `NOSCRIPT` (first use, or after a restart or `SCRIPT FLUSH`), loads it and
//! calls it again; on a cluster, `SCRIPT LOAD` goes to every master.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/lib.lua"), include_str!($file)))
        });
    };
}

script!(CREATE, "lua/create.lua");
script!(WRITE, "lua/write.lua");
script!(INDEX, "lua/index.lua");
script!(LOAD, "lua/load.lua");
script!(LOAD_WRITE, "lua/load_write.lua");
script!(UPDATE, "lua/update.lua");
script!(INCREMENT, "lua/increment.lua");
script!(END, "lua/end.lua");
script!(ROTATE, "lua/rotate.lua");
script!(ROTATE_OUT, "lua/rotate_out.lua");
script!(LIST_USER, "lua/list_user.lua");
script!(END_USER, "lua/end_user.lua");
script!(CLEANUP, "lua/cleanup.lua");
