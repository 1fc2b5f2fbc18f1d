//! The one shape every handler has: `async fn handle(cx: &RequestContext<'_>, req) -> Answer`,
//! where `req` is the decoded request (its typed message, or the `RequestBody` for a
//! handler of an API family), [`RequestContext`] what the request came with besides its
//! body, and [`Answer`] the response, no response (Produce with acks=0 only), or why the
//! request goes unanswered.

use std::sync::Arc;

use vltava_protocol::{ApiKey, ResponseBody};

use crate::broker::Broker;
use crate::metadata_view::MetadataView;
use crate::session::Session;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    /// The API is not advertised in ApiVersions.
    #[error("{0:?} is not advertised by this broker")]
    NotAdvertised(ApiKey),
    /// The controller or a coordinator is not wired yet (the listener only
    /// starts after all are).
    #[error("{0:?} arrived before the node finished starting")]
    NotStarted(ApiKey),
}

/// A handler's answer: `Ok(Some(_))` the response, `Ok(None)` no response at all (only a
/// Produce with acks=0), `Err` a request that cannot be answered (the connection closes).
pub type Answer = Result<Option<ResponseBody>, Unanswered>;

/// The answer `response`.
pub fn respond(response: impl Into<ResponseBody>) -> Answer {
    Ok(Some(response.into()))
}

/// What a request came with besides its body.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The broker answering.
    pub broker: &'a Arc<Broker>,
    /// The request's API.
    pub key: ApiKey,
    /// The request's API version.
    pub version: i16,
    /// The request's correlation id.
    pub correlation_id: i32,
    /// The client id of the request header ("" when it has none).
    pub client_id: &'a str,
    /// The connection's principal, peer and listener.
    pub session: &'a Session,
}

impl RequestContext<'_> {
    /// The broker's metadata now.
    pub fn metadata(&self) -> MetadataView {
        self.broker.metadata()
    }

    /// [`Unanswered::NotStarted`] for this request.
    pub fn not_started(&self) -> Unanswered {
        Unanswered::NotStarted(self.key)
    }

    /// [`Unanswered::NotAdvertised`] for this request.
    pub fn not_advertised(&self) -> Unanswered {
        Unanswered::NotAdvertised(self.key)
    }
}
