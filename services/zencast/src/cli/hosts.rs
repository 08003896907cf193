//! `zencast hosts add|list|remove`: host accounts, from the operator's console.

use sqlx::PgPool;
use zencast_api::accounts::add_account;
use zencast_eventlog::hosts::{self, Actor};
use zencast_events::host::{normalize_email, HostEvent};

/// Adds an account with the password read from stdin; prints its API key.
pub async fn add(pool: &PgPool, email: &str) -> anyhow::Result<i32> {
    let email = normalize_email(email)?;
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    match add_account(pool, email.clone(), password, false, Actor::Console).await {
        Ok((id, api_key)) => {
            println!("added host {email} ({id})");
            println!("api key (shown once): {api_key}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("zencast hosts add: {e}");
            Ok(1)
        }
    }
}

pub async fn list(pool: &PgPool) -> anyhow::Result<i32> {
    for (id, host) in hosts::list(pool).await? {
        let state = if host.active() { "active" } else { "removed" };
        println!("{id}  {:<8} {}", state, host.email);
    }
    Ok(0)
}

pub async fn remove(pool: &PgPool, email: &str) -> anyhow::Result<i32> {
    let email = normalize_email(email)?;
    let Some((id, _)) = hosts::find_by_email(pool, &email).await? else {
        eprintln!("zencast hosts remove: no active account for {email}");
        return Ok(1);
    };
    hosts::append(pool, id, HostEvent::HostRemoved {}, Actor::Console).await?;
    println!("removed host {email} ({id}); its recordings stay");
    Ok(0)
}
