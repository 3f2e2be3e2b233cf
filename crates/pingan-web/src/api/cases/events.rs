//! `GET /api/v1/events`: a server-sent-events stream of case actions for live screens, each case
//! shown only to those whose scope covers it, like everything else.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use pingan_app::access::Scope;
use pingan_app::cases::CaseEvent;
use pingan_core::lifecycle::Status;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::accounts::auth::Caller;
use crate::error::ErrorBody;

/// One event's data (event type `case`).
#[derive(Serialize, ToSchema)]
pub struct CaseEventView {
    id: String,
    number: Option<String>,
    /// `report` for a new case, else the action taken.
    action: String,
    at: i64,
    status: Status,
    category: String,
    division: String,
    handler: Option<String>,
    version: i64,
}

impl From<&CaseEvent> for CaseEventView {
    fn from(event: &CaseEvent) -> CaseEventView {
        let case = &event.case;
        CaseEventView {
            id: case.id.clone(),
            number: case.number.as_ref().map(|n| n.to_string()),
            action: event.action.clone(),
            at: event.at.millis(),
            status: case.status,
            category: case.category.clone(),
            division: case.division.to_string(),
            handler: case.handler.clone(),
            version: case.version,
        }
    }
}

#[utoipa::path(get, operation_id = "case_events", path = "/api/v1/events", tag = "cases", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream: events `case` (data: CaseEventView) as cases are written, and `missed` (data: how many) when the listener fell behind and should reload", content_type = "text/event-stream", body = CaseEventView),
        (status = 401, body = ErrorBody)))]
/// Case actions as they happen, within the caller's scope.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let scope = Scope::of(&caller.principal);
    let events = state.engine.events();
    let next = move |(mut events, scope): (tokio::sync::broadcast::Receiver<Arc<CaseEvent>>, Scope)| async move {
        loop {
            let event = match events.recv().await {
                Ok(event) if scope.allows(&event.case) => {
                    let data = serde_json::to_string(&CaseEventView::from(event.as_ref())).unwrap_or_default();
                    Event::default().event("case").data(data)
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Event::default().event("missed").data(missed.to_string()),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (events, scope)));
        }
    };
    Sse::new(stream::unfold((events, scope), next)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
