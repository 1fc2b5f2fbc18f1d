//! Keeps the broker's metadata in step with the controller: applies each committed
//! `MetadataImage` (shared, not copied; opening and deleting partition logs), from a
//! task that follows the controller's image channel and on demand after the broker's
//! own admin requests.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::broker::Broker;

/// Applies the controller's latest image now (after an admin request, so the
/// next request sees its effect).
pub fn sync_now(broker: &Broker) {
    if let Some(c) = broker.controller() {
        let image = c.image();
        broker.acls.refresh(&image.acls);
        broker.apply_metadata(image);
    }
}

/// Follows the controller's images until the controller stops.
pub fn spawn_follower(broker: &Arc<Broker>) -> Option<JoinHandle<()>> {
    let mut rx = broker.controller()?.subscribe();
    let weak = Arc::downgrade(broker);
    Some(tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let image = rx.borrow_and_update().clone();
            let Some(b) = weak.upgrade() else { return };
            b.acls.refresh(&image.acls);
            let _ = tokio::task::spawn_blocking(move || b.apply_metadata(image)).await;
        }
    }))
}
