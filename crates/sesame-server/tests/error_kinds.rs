//! The two transports agree: every engine error gets the same HTTP status
//! from `sesame serve` (`ApiError`) and from the tower layer
//! (`SessionError`), because both take it from `sesame::Error::kind()`.

use sesame::ErrorKind;
use sesame::testing::errors::every_error;
use sesame_server::error::{ApiError, status_of};
use sesame_tower::SessionError;

#[test]
fn the_service_and_the_layer_answer_every_kind_alike() {
    for kind in ErrorKind::ALL {
        assert_eq!(status_of(kind), sesame_tower::status_of(kind), "{kind:?}");
    }
    // `sesame::Error` is not `Clone`: two copies of the list, side by side.
    for (for_service, for_layer) in every_error().into_iter().zip(every_error()) {
        let text = format!("{for_service:?}");
        let service = ApiError::from(for_service).status();
        let layer = SessionError::from(for_layer).parts().0;
        assert_eq!(service, layer, "{text}");
    }
}

#[test]
fn the_statuses_are_the_documented_ones() {
    let expect = [
        (ErrorKind::Unauthenticated, 401),
        (ErrorKind::Conflict, 409),
        (ErrorKind::TooLarge, 413),
        (ErrorKind::InvalidInput, 400),
        (ErrorKind::Unprocessable, 422),
        (ErrorKind::Unavailable, 503),
        (ErrorKind::Internal, 500),
    ];
    assert_eq!(expect.len(), ErrorKind::ALL.len());
    for (kind, status) in expect {
        assert_eq!(status_of(kind).as_u16(), status, "{kind:?}");
    }
}
