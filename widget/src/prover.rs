//! Proofs of work for the complaints the widget sends (issue 9): a challenge
//! fetched and solved in the background as soon as the dialog opens, so it
//! is usually ready before the shopper presses Send; one proof per
//! complaint; and a fresh one for every retry.
//!
//! The search itself is [`crate::proof`]; this module schedules it on the
//! page's thread in slices of about [`SLICE_BUDGET_MS`], yielding to the
//! browser between them, so typing stays smooth while it runs.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use heard_shared::proof::{Challenge, Proof};
use wasm_bindgen_futures::spawn_local;

use crate::api::{self, ApiError};
use crate::page;
use crate::proof::{Solver, Step};

/// How long one slice of the search may hold the page's thread. Browsers
/// count a task over 50 ms as long; input stays responsive well below that.
pub const SLICE_BUDGET_MS: f64 = 12.0;

/// Candidates tried between two looks at the clock: well under a
/// millisecond of hashing even on a slow phone.
const CANDIDATES_PER_CHECK: u32 = 256;

/// How many times a complaint is sent again with a fresh proof after the
/// collector refused one (`proof_*`): expired while the shopper typed, or
/// already spent by an attempt whose answer was lost.
pub const PROOF_RESENDS: usize = 2;

/// The proof prepared in the background, if any: shared by every copy.
#[derive(Clone, Default)]
pub struct Prover {
    prepared: Rc<RefCell<Prepared>>,
}

/// Where the background preparation stands.
#[derive(Default)]
enum Prepared {
    #[default]
    Nothing,
    UnderWay,
    /// The `Heard-Proof` value, or `None` when the collector wants none.
    Ready(Option<String>),
}

/// How often a send waiting for the background search looks again.
const WAIT_POLL_MS: u32 = 25;

impl Prover {
    /// Starts fetching and solving a challenge, unless one is prepared or
    /// under way already.
    pub fn prepare(&self, collector: &str, site_key: &str) {
        if matches!(*self.prepared.borrow(), Prepared::Nothing) {
            *self.prepared.borrow_mut() = Prepared::UnderWay;
            let (collector, site_key) = (collector.to_owned(), site_key.to_owned());
            let prepared = self.prepared.clone();
            spawn_local(async move {
                // A failure leaves nothing prepared: the send fetches afresh
                // and reports why if it fails again.
                *prepared.borrow_mut() = match fresh(&collector, &site_key).await {
                    Ok(proof) => Prepared::Ready(proof),
                    Err(_) => Prepared::Nothing,
                };
            });
        }
    }

    /// A proof for one complaint, used up by taking it: the prepared one
    /// (waiting for it if it is still being solved), else a fresh one.
    /// `Ok(None)` when the collector wants none.
    pub async fn take(&self, collector: &str, site_key: &str) -> Result<Option<String>, ApiError> {
        while matches!(*self.prepared.borrow(), Prepared::UnderWay) {
            page::sleep_ms(WAIT_POLL_MS).await;
        }
        // Taken out before any await: `prepare` may borrow the cell meanwhile.
        let prepared = std::mem::take(&mut *self.prepared.borrow_mut());
        match prepared {
            Prepared::Ready(proof) => Ok(proof),
            _ => fresh(collector, site_key).await,
        }
    }
}

/// Sends with a proof from `take`, and again with a fresh one each time
/// the collector refuses the proof, [`PROOF_RESENDS`] times at most; then
/// [`ApiError::NoProof`], which keeps the complaint for a later attempt.
/// Whatever else `send` answers is final here. A failure to get a proof
/// (offline, a busy collector) is returned without sending.
pub async fn with_fresh_proofs<T, TakeFuture, SendFuture>(
    mut take: impl FnMut() -> TakeFuture,
    mut send: impl FnMut(Option<String>) -> SendFuture,
) -> Result<T, ApiError>
where
    TakeFuture: Future<Output = Result<Option<String>, ApiError>>,
    SendFuture: Future<Output = Result<T, ApiError>>,
{
    for _ in 0..=PROOF_RESENDS {
        match send(take().await?).await {
            Err(ApiError::Refused(body)) if is_proof_refusal(&body.error) => {}
            answer => return answer,
        }
    }
    Err(ApiError::NoProof)
}

/// The collector's error codes for a missing, wrong, expired or spent
/// proof (`proof_required`, `proof_invalid`, `proof_expired`, `proof_used`).
pub fn is_proof_refusal(error: &str) -> bool {
    error.starts_with("proof_")
}

/// Fetches a challenge and solves it: the `Heard-Proof` value, or `None`
/// when the collector wants no proof.
async fn fresh(collector: &str, site_key: &str) -> Result<Option<String>, ApiError> {
    let Some(challenge) = api::challenge(collector, site_key).await? else {
        return Ok(None);
    };
    let number = solve(&challenge).await.ok_or(ApiError::NoProof)?;
    Ok(Some(
        Proof {
            salt: challenge.salt,
            number,
            signature: challenge.signature,
        }
        .header_value(),
    ))
}

/// Searches in slices of about [`SLICE_BUDGET_MS`], yielding to the browser
/// (a timer, so input and drawing run) between them.
async fn solve(challenge: &Challenge) -> Option<u64> {
    let mut solver = Solver::new(&challenge.salt, &challenge.challenge, challenge.maxnumber)?;
    loop {
        let started = page::now_ms();
        while page::now_ms() - started < SLICE_BUDGET_MS {
            match solver.run(CANDIDATES_PER_CHECK) {
                Step::Found(number) => return Some(number),
                Step::Exhausted => return None,
                Step::Searching => {}
            }
        }
        page::sleep_ms(0).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::future::ready;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use heard_shared::ErrorBody;

    use super::*;

    /// Runs a future that never waits (every step here is ready at once).
    fn now<T>(future: impl Future<Output = T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("the future waited"),
        }
    }

    fn refusal(error: &str) -> ApiError {
        ApiError::Refused(ErrorBody {
            error: error.to_owned(),
            message: "Refused.".to_owned(),
            fields: Vec::new(),
        })
    }

    /// Plays the collector: answers each send in turn from `answers`, and
    /// records which proof each send carried.
    fn deliver(
        proofs: Vec<Result<Option<String>, ApiError>>,
        answers: Vec<Result<&'static str, ApiError>>,
    ) -> (Result<&'static str, ApiError>, Vec<Option<String>>, usize) {
        let proofs = RefCell::new(proofs.into_iter());
        let answers = RefCell::new(answers.into_iter());
        let taken = Cell::new(0);
        let sent = RefCell::new(Vec::new());
        let outcome = now(with_fresh_proofs(
            || {
                taken.set(taken.get() + 1);
                ready(proofs.borrow_mut().next().expect("a proof was asked for"))
            },
            |proof| {
                sent.borrow_mut().push(proof);
                ready(answers.borrow_mut().next().expect("one send too many"))
            },
        ));
        (outcome, sent.into_inner(), taken.get())
    }

    fn proof(name: &str) -> Result<Option<String>, ApiError> {
        Ok(Some(name.to_owned()))
    }

    #[test]
    fn a_complaint_goes_with_its_proof() {
        let (outcome, sent, taken) = deliver(vec![proof("p1")], vec![Ok("receipt")]);
        assert_eq!(outcome, Ok("receipt"));
        assert_eq!(sent, [Some("p1".to_owned())]);
        assert_eq!(taken, 1);
    }

    #[test]
    fn each_refused_proof_is_replaced_by_a_fresh_one_twice_at_most() {
        let (outcome, sent, _) = deliver(
            vec![proof("p1"), proof("p2"), proof("p3")],
            vec![
                Err(refusal("proof_expired")),
                Err(refusal("proof_used")),
                Ok("receipt"),
            ],
        );
        assert_eq!(outcome, Ok("receipt"));
        assert_eq!(
            sent,
            [
                Some("p1".to_owned()),
                Some("p2".to_owned()),
                Some("p3".to_owned())
            ]
        );

        let (outcome, sent, _) = deliver(
            vec![proof("p1"), proof("p2"), proof("p3")],
            vec![
                Err(refusal("proof_invalid")),
                Err(refusal("proof_required")),
                Err(refusal("proof_invalid")),
            ],
        );
        assert_eq!(outcome, Err(ApiError::NoProof));
        assert_eq!(sent.len(), 1 + PROOF_RESENDS);
        assert!(
            ApiError::NoProof.is_retryable(),
            "kept in the outbox, not dropped"
        );
    }

    #[test]
    fn other_refusals_and_failures_are_final_here() {
        let invalid = refusal("invalid_submission");
        let (outcome, sent, _) = deliver(vec![proof("p1")], vec![Err(invalid.clone())]);
        assert_eq!(outcome, Err(invalid));
        assert_eq!(sent.len(), 1);

        let (outcome, sent, _) = deliver(vec![proof("p1")], vec![Err(ApiError::NotSent)]);
        assert_eq!(outcome, Err(ApiError::NotSent));
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn without_a_challenge_nothing_is_sent_and_an_old_collector_gets_none() {
        let (outcome, sent, _) = deliver(
            vec![Err(ApiError::Busy {
                retry_after_ms: Some(1_000),
            })],
            vec![],
        );
        assert_eq!(
            outcome,
            Err(ApiError::Busy {
                retry_after_ms: Some(1_000)
            })
        );
        assert!(sent.is_empty());

        let (outcome, sent, _) = deliver(vec![Ok(None)], vec![Ok("receipt")]);
        assert_eq!(outcome, Ok("receipt"));
        assert_eq!(sent, [None]);
    }

    #[test]
    fn proof_refusals_are_told_apart_from_other_refusals() {
        for code in [
            "proof_required",
            "proof_invalid",
            "proof_expired",
            "proof_used",
        ] {
            assert!(is_proof_refusal(code), "{code}");
        }
        for code in ["invalid_submission", "rate_limited", "unknown_site", ""] {
            assert!(!is_proof_refusal(code), "{code}");
        }
    }
}
