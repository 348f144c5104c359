//! `GET /v1/games`: every game of the catalogue with its names and disclosed odds.

use axum::Json;
use axum::extract::State;
use playpulse_policy::games::Game;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(games))
}

#[derive(Serialize, ToSchema)]
pub struct GameView {
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub game: Game,
    /// Expected tokens back per token staked, from the odds table; null for a game without
    /// stakes (the quiz).
    pub return_to_player: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct Games {
    pub games: Vec<GameView>,
}

#[utoipa::path(
    get, path = "/v1/games", tag = "protection",
    responses((status = 200, description = "every game with its disclosed odds", body = Games)),
    security(("api_key" = ["read"]))
)]
async fn games(_caller: Caller<ReadScope>, State(state): State<AppState>) -> Json<Games> {
    let games = state
        .product
        .games
        .iter()
        .map(|g| GameView { return_to_player: g.return_to_player(), game: g.clone() })
        .collect();
    Json(Games { games })
}
