//! Who is signed in, shared by every page: what `GET /api/me` said when the
//! app started, kept current by the pages that sign in and out (the cookie
//! itself is HttpOnly: the page never sees it).

use dioxus::prelude::*;
use zencast_events::protocol::{AuthMode, HostView, Me};

use crate::api;

#[derive(Debug, Clone, PartialEq)]
pub enum Account {
    /// `/api/me` has not answered yet.
    Asking,
    Known(Me),
    /// No answer (offline, or an older server): pages behave as before
    /// accounts, and the api says what it refuses.
    Unknown,
}

impl Account {
    /// Signed in as this host.
    pub fn host(&self) -> Option<&HostView> {
        match self {
            Account::Known(me) => me.host.as_ref(),
            _ => None,
        }
    }

    /// The api needs a signed-in host to create sessions, and there is none.
    pub fn must_sign_in(&self) -> bool {
        matches!(self, Account::Known(me) if me.auth == AuthMode::Accounts && me.host.is_none())
    }

    /// No account exists yet: the console's first-run link creates one.
    pub fn needs_setup(&self) -> bool {
        self.must_sign_in() && matches!(self, Account::Known(me) if me.needs_setup)
    }
}

/// Provides the shared account (the root component calls this once) and asks the api.
pub fn provide_account() {
    let mut account = use_context_provider(|| Signal::new(Account::Asking));
    use_hook(move || {
        spawn(async move {
            account.set(match api::me().await {
                Ok(me) => Account::Known(me),
                Err(_) => Account::Unknown,
            });
        });
    });
}

pub fn use_account() -> Signal<Account> {
    use_context()
}

/// After a set-up or a sign-in.
pub fn signed_in(mut account: Signal<Account>, host: HostView) {
    let auth = known_auth(account);
    account.set(Account::Known(Me {
        auth,
        host: Some(host),
        needs_setup: false,
    }));
}

/// After signing out, or when the api says the sign-in ended.
pub fn signed_out(mut account: Signal<Account>) {
    let auth = known_auth(account);
    account.set(Account::Known(Me {
        auth,
        host: None,
        needs_setup: false,
    }));
}

fn known_auth(account: Signal<Account>) -> AuthMode {
    match &*account.peek() {
        Account::Known(me) => me.auth,
        _ => AuthMode::Accounts,
    }
}
