//! The live feed: "a complaint was just recorded", for inboxes that are open.
//!
//! Intake publishes after the complaint's transaction has committed, so a
//! staff member who follows the event always finds the complaint. Every
//! event carries its merchant, and a [`Subscription`] only ever yields the
//! events of the merchant it was opened for: one merchant's inbox never
//! learns about another's complaints.
//!
//! The feed is a `tokio::sync::broadcast` channel: publishing never waits,
//! and a subscriber that falls behind is told it missed events (and then
//! reloads) instead of slowing intake down.

use tokio::sync::{broadcast, watch};

/// How many events a slow subscriber may fall behind before it is told to
/// reload instead.
pub const FEED_CAPACITY: usize = 256;

/// A complaint that has just been committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub merchant_id: i64,
    pub reference: String,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A new complaint of the subscriber's merchant.
    Arrived { reference: String },
    /// Events were dropped because the subscriber was too slow: reload.
    Missed,
}

/// The publishing side, held in the app state; cheap to clone.
#[derive(Clone)]
pub struct LiveFeed {
    sender: broadcast::Sender<Arrival>,
    /// Set when the collector shuts down, so open streams end and the
    /// server's graceful shutdown need not wait for them.
    closed: watch::Sender<bool>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::new(FEED_CAPACITY)
    }
}

impl LiveFeed {
    pub fn new(capacity: usize) -> LiveFeed {
        let (sender, _) = broadcast::channel(capacity);
        let (closed, _) = watch::channel(false);
        LiveFeed { sender, closed }
    }

    /// Tells open inboxes about a committed complaint. Never waits; with
    /// nobody listening the event is simply dropped.
    pub fn publish(&self, arrival: Arrival) {
        let _ = self.sender.send(arrival);
    }

    /// Ends every subscription (at shutdown).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Events for `merchant_id` from now on.
    pub fn subscribe(&self, merchant_id: i64) -> Subscription {
        Subscription {
            merchant_id,
            receiver: self.sender.subscribe(),
            closed: self.closed.subscribe(),
        }
    }
}

/// One open inbox's view of the feed.
pub struct Subscription {
    merchant_id: i64,
    receiver: broadcast::Receiver<Arrival>,
    closed: watch::Receiver<bool>,
}

impl Subscription {
    /// The next event for this merchant; `None` once the feed is closed.
    pub async fn next(&mut self) -> Option<LiveEvent> {
        loop {
            if *self.closed.borrow() {
                return None;
            }
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                changed = self.closed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    continue;
                }
            };
            match received {
                Ok(arrival) if arrival.merchant_id == self.merchant_id => {
                    return Some(LiveEvent::Arrived {
                        reference: arrival.reference,
                    });
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return Some(LiveEvent::Missed),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(merchant_id: i64, reference: &str) -> Arrival {
        Arrival {
            merchant_id,
            reference: reference.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_subscriber_sees_only_its_own_merchants_complaints() {
        let feed = LiveFeed::default();
        let mut acme = feed.subscribe(1);
        let mut other = feed.subscribe(2);
        feed.publish(arrival(2, "HRD-OTHR-0001"));
        feed.publish(arrival(1, "HRD-ACME-0001"));
        feed.publish(arrival(2, "HRD-OTHR-0002"));
        assert_eq!(
            acme.next().await,
            Some(LiveEvent::Arrived {
                reference: "HRD-ACME-0001".to_owned()
            })
        );
        assert_eq!(
            other.next().await,
            Some(LiveEvent::Arrived {
                reference: "HRD-OTHR-0001".to_owned()
            })
        );
        assert_eq!(
            other.next().await,
            Some(LiveEvent::Arrived {
                reference: "HRD-OTHR-0002".to_owned()
            })
        );
        feed.close();
        assert_eq!(acme.next().await, None, "nothing else was for Acme");
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_to_reload() {
        let feed = LiveFeed::new(2);
        let mut slow = feed.subscribe(1);
        for index in 0..5 {
            feed.publish(arrival(1, &format!("HRD-0000-000{index}")));
        }
        assert_eq!(slow.next().await, Some(LiveEvent::Missed));
        assert_eq!(
            slow.next().await,
            Some(LiveEvent::Arrived {
                reference: "HRD-0000-0003".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn closing_ends_every_subscription() {
        let feed = LiveFeed::default();
        let mut subscription = feed.subscribe(1);
        let waiting = tokio::spawn(async move { subscription.next().await });
        feed.close();
        assert_eq!(waiting.await.unwrap(), None);
        assert_eq!(feed.subscribe(1).next().await, None);
    }
}
