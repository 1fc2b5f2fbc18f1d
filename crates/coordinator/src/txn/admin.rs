//! DescribeTransactions and ListTransactions (state, producer id and
//! duration filters), answered from the coordinator's current state.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use vltava_protocol::messages::list_transactions_response::TransactionState as ListedState;
use vltava_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse,
};

use crate::codes;
use crate::txn::coordinator::{TransactionCoordinator, TxnEffect};
use crate::txn::state::TxnState;

impl TransactionCoordinator {
    pub(crate) fn describe_transactions(
        &mut self,
        request_id: u64,
        req: DescribeTransactionsRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        let states = req
            .transactional_ids
            .iter()
            .map(|id| {
                // Not found or refused: the schema's defaults (0), as Kafka answers (found by
                // the differential test against Kafka).
                let mut s = TransactionState {
                    transactional_id: id.clone(),
                    transaction_state: "".into(),
                    ..Default::default()
                };
                // An empty id is INVALID_REQUEST before any lookup, as in Kafka (found by
                // the differential test, `every_api`).
                if id.is_empty() {
                    s.error_code = codes::INVALID_REQUEST;
                    return s;
                }
                if let Some(code) = self.txn_error(id.as_str()) {
                    s.error_code = code;
                    return s;
                }
                match self.txns.get(id.as_str()) {
                    Some(m) if m.state() != TxnState::Dead => {
                        s.transaction_state = m.state().name().into();
                        s.transaction_timeout_ms = m.current.timeout_ms;
                        s.transaction_start_time_ms = m.current.start_ms;
                        s.producer_id = m.current.producer_id;
                        s.producer_epoch = m.current.producer_epoch;
                        s.topics = m
                            .topics()
                            .into_iter()
                            .map(|(t, ps)| TopicData {
                                topic: t.into(),
                                partitions: ps,
                                ..Default::default()
                            })
                            .collect();
                    }
                    _ => s.error_code = codes::TRANSACTIONAL_ID_NOT_FOUND,
                }
                s
            })
            .collect();
        out.push(TxnEffect::Respond {
            request_id,
            body: ResponseBody::DescribeTransactions(DescribeTransactionsResponse {
                transaction_states: states,
                ..Default::default()
            }),
        });
    }

    pub(crate) fn list_transactions(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: ListTransactionsRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        let mut resp = ListTransactionsResponse::default();
        if self.is_loading() {
            resp.error_code = codes::COORDINATOR_LOAD_IN_PROGRESS;
        } else {
            let mut states = Vec::new();
            for name in &req.state_filters {
                match TxnState::from_name(name.as_str()) {
                    Some(s) => states.push(s),
                    None => resp.unknown_state_filters.push(name.clone()),
                }
            }
            let duration = if version >= 1 {
                req.duration_filter
            } else {
                -1
            };
            let mut listed: Vec<ListedState> = self
                .txns
                .values()
                .filter(|m| {
                    m.state() != TxnState::Dead
                        && (req.producer_id_filters.is_empty()
                            || req.producer_id_filters.contains(&m.current.producer_id))
                        && (req.state_filters.is_empty() || states.contains(&m.state()))
                        && (duration < 0 || now_ms.saturating_sub(m.current.start_ms) > duration)
                })
                .map(|m| ListedState {
                    transactional_id: m.transactional_id.as_str().into(),
                    producer_id: m.current.producer_id,
                    transaction_state: m.state().name().into(),
                    ..Default::default()
                })
                .collect();
            listed.sort_by(|a, b| a.transactional_id.as_str().cmp(b.transactional_id.as_str()));
            resp.transaction_states = listed;
        }
        out.push(TxnEffect::Respond {
            request_id,
            body: ResponseBody::ListTransactions(resp),
        });
    }
}
