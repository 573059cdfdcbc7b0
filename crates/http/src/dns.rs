//! Name resolution that says which name failed, as a type.
//!
//! The resolver reqwest uses by default reports a name that does not resolve
//! as an I/O error of an unnamed kind ("failed to lookup address
//! information"), without the name; a connection refused looks much the same
//! from outside. This resolver does the same lookup (the system's, on a
//! blocking thread) and fails with [`NameNotResolved`], which the client finds
//! in the error chain: the message names the host, and a name that does not
//! resolve is not retried.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A host name the system resolver could not turn into an address.
#[derive(Debug, thiserror::Error)]
#[error("the host name {host} does not resolve: {cause}")]
pub struct NameNotResolved {
    pub host: String,
    pub cause: String,
}

#[derive(Debug, Default)]
pub(crate) struct Resolver;

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let fail = |cause: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(NameNotResolved {
                    host: host.clone(),
                    cause,
                })
            };
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(found) => {
                    let addrs: Vec<SocketAddr> = found.collect();
                    if addrs.is_empty() {
                        Err(fail("no address".into()))
                    } else {
                        Ok(Box::new(addrs.into_iter()) as Addrs)
                    }
                }
                Err(e) => Err(fail(e.to_string())),
            }
        })
    }
}
