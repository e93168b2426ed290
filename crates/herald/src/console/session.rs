//! The console's sign-in sessions: an in-memory table of random 256-bit
//! ids, each tied to one tenant and one CSRF token, ended at sign-out or
//! after a while. Sessions live in this process only, so a restart signs
//! everyone out (the README says so).

use herald_core::Millis;
use herald_store::Tenant;
use std::collections::HashMap;
use std::sync::Mutex;

/// The session cookie's name.
pub const COOKIE: &str = "herald_session";
/// The pre-sign-in cookie holding the login form's CSRF token.
pub const LOGIN_COOKIE: &str = "herald_login";
/// A session ends this long after its last use.
pub const IDLE_MS: Millis = 2 * 60 * 60 * 1000;
/// A session ends this long after sign-in, however busy.
pub const MAX_AGE_MS: Millis = 12 * 60 * 60 * 1000;

/// A signed-in tenant.
#[derive(Debug, Clone)]
pub struct Session {
    /// The tenant the API key belonged to.
    pub tenant: Tenant,
    /// The token every form of this session carries.
    pub csrf: String,
    created_at: Millis,
    last_used: Millis,
}

/// Every live session, by id.
#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic elsewhere while holding the lock leaves a usable table.
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for a tenant; returns its id (the cookie's value).
    pub fn start(&self, tenant: Tenant, now: Millis) -> String {
        let id = random_token();
        let session = Session {
            tenant,
            csrf: random_token(),
            created_at: now,
            last_used: now,
        };
        let mut table = self.table();
        table.retain(|_, s| alive(s, now));
        table.insert(id.clone(), session);
        id
    }

    /// The live session of an id, its idle clock restarted; `None` when it
    /// is unknown, ended or expired (an expired one is removed).
    pub fn find(&self, id: &str, now: Millis) -> Option<Session> {
        let mut table = self.table();
        let s = table.get_mut(id)?;
        if !alive(s, now) {
            table.remove(id);
            return None;
        }
        s.last_used = now;
        Some(s.clone())
    }

    /// Ends a session (sign-out); the id is worthless afterwards.
    pub fn end(&self, id: &str) {
        self.table().remove(id);
    }

    /// How many sessions are live now.
    pub fn live(&self, now: Millis) -> usize {
        self.table().values().filter(|s| alive(s, now)).count()
    }
}

fn alive(s: &Session, now: Millis) -> bool {
    now - s.last_used < IDLE_MS && now - s.created_at < MAX_AGE_MS
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    crate::service::new_token("")
}

/// Whether two tokens are equal, in time that does not depend on where
/// they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from a `Cookie` request header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, path `/`, and
/// `Secure` when the console is served over https. `max_age_s` 0 removes it.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_s: i64) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}");
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant {
            id: "t1".into(),
            name: "Salon".into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_session_is_found_until_it_ends() {
        let s = Sessions::default();
        let id = s.start(tenant(), 0);
        assert_eq!(id.len(), 64);
        let found = s.find(&id, 1000).expect("live");
        assert_eq!(found.tenant.id, "t1");
        assert_eq!(found.csrf.len(), 64);
        assert_ne!(found.csrf, id);
        s.end(&id);
        assert!(s.find(&id, 2000).is_none());
        assert!(s.find("not-an-id", 0).is_none());
    }

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let s = Sessions::default();
        let id = s.start(tenant(), 0);
        assert!(s.find(&id, IDLE_MS - 1).is_some());
        // Used just now: the idle clock restarted.
        assert!(s.find(&id, 2 * IDLE_MS - 2).is_some());
        assert!(s.find(&id, 3 * IDLE_MS).is_none(), "idle too long");
        assert_eq!(s.live(3 * IDLE_MS), 0);

        let busy = s.start(tenant(), 0);
        let mut now = 0;
        while now + IDLE_MS / 2 < MAX_AGE_MS {
            now += IDLE_MS / 2;
            assert!(s.find(&busy, now).is_some());
        }
        assert!(
            s.find(&busy, MAX_AGE_MS).is_none(),
            "older than the maximum"
        );
    }

    #[test]
    fn cookies_and_tokens() {
        assert_eq!(cookie("a=1; herald_session=xyz; b=2", COOKIE), Some("xyz"));
        assert_eq!(cookie("herald_sessionx=1", COOKIE), None);
        let c = set_cookie(COOKIE, "v", true, 60);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!set_cookie(COOKIE, "v", false, 60).contains("Secure"));
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
