//! `Controller::alter_user_scram_credentials`: AlterUserScramCredentials run on the active
//! controller (forwarded over the controller channel from other nodes), its records
//! committed before the answer.

use vltava_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use vltava_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use vltava_protocol::{RequestBody, ResponseBody, SharedStr};

use crate::controller;
use crate::error::codes;
use crate::forward::Route;
use crate::handle::Controller;

impl Controller {
    /// AlterUserScramCredentials at `version`, on the active controller.
    pub async fn alter_user_scram_credentials(
        &self,
        req: AlterUserScramCredentialsRequest,
        version: i16,
    ) -> AlterUserScramCredentialsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::AlterUserScramCredentials(r)) =
                self.forward(leader, body, version).await
            {
                return r;
            }
        }
        self.local_alter_user_scram_credentials(req).await
    }

    /// AlterUserScramCredentials on this node's driver (NOT_CONTROLLER unless it leads).
    pub(crate) async fn local_alter_user_scram_credentials(
        &self,
        req: AlterUserScramCredentialsRequest,
    ) -> AlterUserScramCredentialsResponse {
        let mut users: Vec<SharedStr> = Vec::new();
        let names = req.deletions.iter().map(|d| &d.name);
        for n in names.chain(req.upsertions.iter().map(|u| &u.name)) {
            if !users.contains(n) {
                users.push(n.clone());
            }
        }
        self.run_admin(
            move |image, _| controller::alter_user_scram_credentials(image, &req),
            || AlterUserScramCredentialsResponse {
                results: users
                    .into_iter()
                    .map(|user| AlterUserScramCredentialsResult {
                        user,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for r in resp
                    .results
                    .iter_mut()
                    .filter(|r| r.error_code == codes::NONE)
                {
                    r.error_code = code;
                    r.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }
}
