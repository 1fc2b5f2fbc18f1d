//! `Controller::alter_partition_reassignments` (KIP-455): AlterPartitionReassignments run on
//! the active controller (forwarded over the controller channel from other nodes), its
//! records committed before the answer, which waits until this node's image shows each
//! accepted change. ListPartitionReassignments needs no controller: the ongoing
//! reassignments are in every node's image (`controller::list_partition_reassignments`).

use vltava_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use vltava_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use vltava_protocol::{RequestBody, ResponseBody};

use crate::controller;
use crate::error::codes;
use crate::forward::Route;
use crate::handle::Controller;
use crate::image::MetadataImage;

/// What an accepted partition of the request looks like once applied: `Some(target)` —
/// the replicas start with the target (ongoing or completed); `None` — no reassignment
/// ongoing (cancelled).
type Expected = (String, i32, Option<Vec<i32>>);

fn shows(image: &MetadataImage, (topic, partition, target): &Expected) -> bool {
    let Some(p) = image
        .topics
        .get(topic)
        .and_then(|t| t.partitions.get(partition))
    else {
        return true;
    };
    match target {
        Some(t) => p.replicas.starts_with(t),
        None => !p.reassigning(),
    }
}

impl Controller {
    /// AlterPartitionReassignments on the active controller.
    pub async fn alter_partition_reassignments(
        &self,
        req: AlterPartitionReassignmentsRequest,
        version: i16,
    ) -> AlterPartitionReassignmentsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::AlterPartitionReassignments(r)) =
                self.forward(leader, body, version).await
            {
                let expected: Vec<Expected> = req
                    .topics
                    .iter()
                    .zip(&r.responses)
                    .flat_map(|(t, answered)| {
                        t.partitions
                            .iter()
                            .zip(&answered.partitions)
                            .filter(|(_, a)| a.error_code == codes::NONE)
                            .map(|(p, _)| {
                                (t.name.to_string(), p.partition_index, p.replicas.clone())
                            })
                    })
                    .collect();
                self.wait_applied(|i| expected.iter().all(|e| shows(i, e)))
                    .await;
                return r;
            }
        }
        self.local_alter_partition_reassignments(req).await
    }

    /// AlterPartitionReassignments on this node's driver (NOT_CONTROLLER unless it leads).
    pub(crate) async fn local_alter_partition_reassignments(
        &self,
        req: AlterPartitionReassignmentsRequest,
    ) -> AlterPartitionReassignmentsResponse {
        let unclean = self.elections.unclean_default;
        let named: Vec<(_, Vec<i32>)> = req
            .topics
            .iter()
            .map(|t| {
                let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                (t.name.clone(), parts)
            })
            .collect();
        self.run_admin(
            move |image, _| controller::alter_partition_reassignments(image, &req, unclean),
            || AlterPartitionReassignmentsResponse {
                responses: named
                    .into_iter()
                    .map(|(name, parts)| ReassignableTopicResponse {
                        name,
                        partitions: parts
                            .into_iter()
                            .map(|partition_index| ReassignablePartitionResponse {
                                partition_index,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for p in resp
                    .responses
                    .iter_mut()
                    .flat_map(|t| t.partitions.iter_mut())
                    .filter(|p| p.error_code == codes::NONE)
                {
                    p.error_code = code;
                    p.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }
}
