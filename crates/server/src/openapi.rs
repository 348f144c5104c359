//! The OpenAPI document: its info and security scheme, and the refusals that the layers
//! around the handlers answer (authentication, rate limits, extractors, the time limit),
//! added here in one place so that each handler documents only the answers of its own.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "playpulse",
        description = "LiveOps engine for virtual-currency apps: events, ledger, users, quiz, proposals."
    ),
    modifiers(&BearerKeys),
    components(schemas(Problem))
)]
pub(crate) struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// A refusal that some layer answers on many operations, documented once under
/// `components/responses/{name}` and referenced from each operation it applies to.
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
}

const UNAUTHORIZED: Shared = Shared {
    status: "401",
    name: "Unauthorized",
    description: "`missing_api_key`, `invalid_api_key` (unknown, wrong or revoked key), or a player \
                  token that is expired (`token_expired`) or does not verify (`invalid_token`)",
};
const FORBIDDEN: Shared = Shared {
    status: "403",
    name: "Forbidden",
    description: "`missing_scope`: the key lacks the operation's scope, or a player token calls a \
                  route it may not; `other_user`: a player token names another user",
};
const TOO_MANY_REQUESTS: Shared = Shared {
    status: "429",
    name: "TooManyRequests",
    description: "`rate_limited`: the key's rate limit is spent; `too_many_auth_failures`: too many \
                  failed authentications from the client's address. `Retry-After` says when to retry",
};
const BAD_REQUEST: Shared = Shared {
    status: "400",
    name: "BadRequest",
    description: "a path or query that does not parse (`invalid_path`, `invalid_user_id`, \
                  `invalid_query`, `invalid_limit`, `invalid_cursor`), or a body that is not JSON \
                  (`malformed_body`)",
};
const PAYLOAD_TOO_LARGE: Shared =
    Shared { status: "413", name: "PayloadTooLarge", description: "`body_too_large`: a body over 1 MiB" };
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    status: "415",
    name: "UnsupportedMediaType",
    description: "`unsupported_media_type`: a body without `Content-Type: application/json`",
};
const UNPROCESSABLE_BODY: Shared = Shared {
    status: "422",
    name: "UnprocessableBody",
    description: "JSON of the wrong shape for this operation's body; `code` and `detail` say what",
};
const REQUEST_TIMEOUT: Shared = Shared {
    status: "408",
    name: "RequestTimeout",
    description: "`request_timeout`: the request took longer than the server's time limit",
};

impl Shared {
    fn response(&self) -> Response {
        let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let mut response =
            ResponseBuilder::new().description(self.description).content("application/problem+json", problem);
        if self.status == "429" {
            let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).build();
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(seconds)
                    .description(Some("seconds to wait before retrying"))
                    .build(),
            );
        }
        response.build()
    }

    /// Lists this refusal on `operation`, unless the operation documents the status itself.
    fn add_to(&self, operation: &mut Operation) {
        operation
            .responses
            .responses
            .entry(self.status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(self.name)));
    }
}

/// Every refusal in [`Shared`] form, registered as a component.
const ALL: [&Shared; 8] = [
    &UNAUTHORIZED,
    &FORBIDDEN,
    &TOO_MANY_REQUESTS,
    &BAD_REQUEST,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &UNPROCESSABLE_BODY,
    &REQUEST_TIMEOUT,
];

fn operations(doc: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
            .into_iter()
            .filter_map(Option::as_mut)
    })
}

/// Documents, on every operation of `keyed` (the routes behind API keys, whose requests
/// pass [`crate::auth::authenticate`] and the problem-answering extractors of
/// [`crate::extract`]), the refusals those answer: 401, 403 and 429 everywhere; 400 where
/// the operation has path or query parameters or a body; 413, 415 and 422 where it has a
/// JSON body. An operation that documents one of these statuses keeps its own text.
pub(crate) fn document_keyed_refusals(keyed: &mut utoipa::openapi::OpenApi) {
    for operation in operations(keyed) {
        for shared in [&UNAUTHORIZED, &FORBIDDEN, &TOO_MANY_REQUESTS] {
            shared.add_to(operation);
        }
        let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let has_body = operation.request_body.is_some();
        if has_parameters || has_body {
            BAD_REQUEST.add_to(operation);
        }
        if has_body {
            for shared in [&PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE, &UNPROCESSABLE_BODY] {
                shared.add_to(operation);
            }
        }
    }
}

/// Documents the time limit every request is under (408) on every operation of `doc`, and
/// registers the shared refusals as components.
pub(crate) fn document_shared_refusals(doc: &mut utoipa::openapi::OpenApi) {
    for operation in operations(doc) {
        REQUEST_TIMEOUT.add_to(operation);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for shared in ALL {
        components.responses.insert(shared.name.to_owned(), RefOr::T(shared.response()));
    }
}
