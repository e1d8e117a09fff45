//! The sweeps on real SQLite files with a manual clock: escalation steps in
//! order and never twice, clusters on a generated stream (English and
//! Chinese, two merchants) with exactly the expected alerts, and digests
//! delivered through the real SMTP sink once per period.

use std::time::Duration;

use heard_shared::Status;

use super::email::StaffMail;
use super::schedule::Schedule;
use super::sweeps::{SweepPolicy, run, sweep_clusters};
use super::{Notifier, Policy, deliver_due};
use crate::clock::Clock;
use crate::domain::clusters::{AlertKind, ClusterPolicy};
use crate::domain::digest::{DigestKind, DigestPolicy};
use crate::domain::escalation::{EscalationPolicy, Level, Target};
use crate::mail::sink::Sink;
use crate::store::inbox_fixtures::{START, complaint, record, site};
use crate::store::routing_fixtures::staff;
use crate::store::test_support::temp_store;
use crate::store::{InboxAction, NotificationView, Role, Store};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const ACTOR: i64 = 1;

async fn outbox(store: &Store, merchant: i64) -> Vec<NotificationView> {
    let mut rows = store.notifications(merchant, None, 500).await.unwrap();
    rows.reverse();
    rows
}

/// (event, recipient, reference) of the rows queued since `skip`.
fn summary(rows: &[NotificationView], skip: usize) -> Vec<(String, String, Option<String>)> {
    rows.iter()
        .skip(skip)
        .map(|row| (row.event.clone(), row.target.clone(), row.reference.clone()))
        .collect()
}

#[tokio::test]
async fn an_overdue_complaint_escalates_to_assignee_lead_then_owners_once_each_and_stops_when_answered()
 {
    let temp = temp_store();
    let store = &temp.store;
    let (merchant, site_id) = site(store, "Acme", "acme").await;
    let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
    let agent = staff(store, merchant, "agent@acme.example", Role::Agent).await;
    let lead = staff(store, merchant, "lead@acme.example", Role::Agent).await;
    // Another merchant's owner must never hear of Acme's complaints.
    let (other, other_site) = site(store, "Other", "other").await;
    staff(store, other, "owner@other.example", Role::Owner).await;
    record(store, complaint(other_site, START + HOUR, "Not Acme's")).await;

    let late = record(store, complaint(site_id, START, "The lid does not close")).await;
    let answered = record(store, complaint(site_id, START, "The box was dented")).await;
    let team = store.teams(merchant).await.unwrap()[0].id;
    store
        .put_team_member(merchant, ACTOR, team, lead, true, START)
        .await
        .unwrap()
        .unwrap();
    store
        .inbox_act(
            merchant,
            owner,
            &late,
            InboxAction::Assign(Some(agent)),
            START,
        )
        .await
        .unwrap();
    store
        .inbox_act(
            merchant,
            agent,
            &answered,
            InboxAction::Reply("We are on it".to_owned()),
            START + MINUTE,
        )
        .await
        .unwrap();
    let detail = store
        .inbox_complaint(merchant, &late, START)
        .await
        .unwrap()
        .unwrap();
    let due = detail.first_response_due_at.unwrap();
    let resolution_due = detail.resolution_due_at.unwrap();
    assert!(
        resolution_due >= due + 4 * HOUR,
        "the test's steps fit in between"
    );

    let policy = EscalationPolicy::default();
    let before = outbox(store, merchant).await.len();
    assert!(
        store
            .escalate_overdue(&policy, due)
            .await
            .unwrap()
            .is_empty(),
        "not overdue yet"
    );

    let steps = store.escalate_overdue(&policy, due + 1).await.unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(
        (steps[0].reference.as_str(), steps[0].target, steps[0].level),
        (late.as_str(), Target::FirstResponse, Level::Assignee)
    );
    assert_eq!(steps[0].recipients, [agent]);
    assert!(
        store
            .escalate_overdue(&policy, due + 2)
            .await
            .unwrap()
            .is_empty(),
        "a step is never repeated"
    );
    assert!(
        store
            .escalate_overdue(&policy, due + HOUR - 1)
            .await
            .unwrap()
            .is_empty()
    );
    let steps = store.escalate_overdue(&policy, due + HOUR).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].level, steps[0].recipients.clone()),
        (Level::TeamLead, vec![lead])
    );
    // By now the other merchant's complaint is overdue too: its steps are
    // its own (nobody to tell there), Acme's owners hear only of Acme's.
    let steps = store
        .escalate_overdue(&policy, due + 4 * HOUR)
        .await
        .unwrap();
    let ours: Vec<_> = steps.iter().filter(|step| step.reference == late).collect();
    assert_eq!(ours.len(), 1, "{steps:?}");
    assert_eq!(
        (ours[0].level, ours[0].recipients.clone()),
        (Level::Owners, vec![owner])
    );
    assert!(
        steps
            .iter()
            .filter(|step| step.reference != late)
            .all(|step| step.recipients.is_empty())
    );

    let rows = outbox(store, merchant).await;
    let expected = |to: &str| {
        (
            "complaint.escalated".to_owned(),
            to.to_owned(),
            Some(late.clone()),
        )
    };
    assert_eq!(
        summary(&rows, before),
        [
            expected("agent@acme.example"),
            expected("lead@acme.example"),
            expected("owner@acme.example")
        ]
    );
    assert!(
        outbox(store, other)
            .await
            .iter()
            .all(|row| row.event != "complaint.escalated"),
        "the other merchant's owner heard nothing"
    );
    let payload = store.due_notifications(due + 4 * HOUR, 100).await.unwrap();
    let escalated = payload
        .iter()
        .find(|row| row.event == "complaint.escalated")
        .unwrap();
    assert!(
        !escalated.payload.contains("lid"),
        "no shopper words: {}",
        escalated.payload
    );

    // The timeline says what happened, step by step, as internal events.
    let detail = store
        .inbox_complaint(merchant, &late, due + 4 * HOUR)
        .await
        .unwrap()
        .unwrap();
    let escalations: Vec<(String, bool)> = detail
        .timeline
        .iter()
        .filter(|event| event.kind == "escalated")
        .map(|event| {
            (
                event.data["level"].as_str().unwrap().to_owned(),
                event.public,
            )
        })
        .collect();
    assert_eq!(
        escalations,
        [
            ("assignee".to_owned(), false),
            ("team_lead".to_owned(), false),
            ("owners".to_owned(), false)
        ]
    );

    // Answered now: the resolution target is the only one left, and once
    // the complaint is resolved nothing escalates any more.
    store
        .inbox_act(
            merchant,
            agent,
            &late,
            InboxAction::SetStatus {
                to: Status::Resolved,
                allowed_from: vec![
                    Status::Received,
                    Status::Acknowledged,
                    Status::InProgress,
                    Status::WaitingForYou,
                ],
            },
            due + 5 * HOUR,
        )
        .await
        .unwrap();
    let steps = store
        .escalate_overdue(&policy, resolution_due + 100 * HOUR)
        .await
        .unwrap();
    let acme: Vec<(String, Target)> = steps
        .iter()
        .filter(|step| step.reference == late || step.reference == answered)
        .map(|step| (step.reference.clone(), step.target))
        .collect();
    assert_eq!(
        acme,
        [
            (answered.clone(), Target::Resolution),
            (answered.clone(), Target::Resolution),
            (answered.clone(), Target::Resolution)
        ],
        "the resolved complaint is done; the answered one is still unresolved"
    );
}

#[tokio::test]
async fn a_stream_of_complaints_raises_exactly_the_expected_cluster_alerts() {
    let temp = temp_store();
    let store = &temp.store;
    let (dairy, north) = site(store, "Dairy", "dairy-north").await;
    let (_, south) = site(store, "Dairy", "dairy-south").await;
    staff(store, dairy, "owner@dairy.example", Role::Owner).await;
    staff(store, dairy, "agent@dairy.example", Role::Agent).await;
    let (other, other_site) = site(store, "Other", "other").await;
    staff(store, other, "owner@other.example", Role::Owner).await;

    let sour_milk = [
        "喝了你们的牛奶以后孩子肚子疼，牛奶有酸味",
        "牛奶有酸味，孩子喝了以后肚子疼得厉害",
        "牛奶酸了，孩子喝了肚子疼",
        "孩子喝了牛奶以后肚子疼，牛奶是酸的",
        "牛奶有酸味，喝了肚子疼",
        "我们全家喝了牛奶以后都肚子疼，牛奶有酸味",
    ];
    // (site, hours after START, text, safety)
    let mut stream: Vec<(i64, i64, &str, bool)> = vec![
        (north, 0, sour_milk[0], false),
        (south, 1, "The delivery was late by three days", false),
        (south, 2, sour_milk[1], false),
        (north, 3, "The delivery was late again, three days", false),
        (other_site, 4, sour_milk[2], false),
        (south, 5, sour_milk[2], false), // the third: alert
        (
            north,
            6,
            "The colour of the jumper is not what the photo showed",
            false,
        ),
        (north, 7, sour_milk[3], false),
        (south, 8, sour_milk[4], false),
        (north, 9, sour_milk[5], false), // the sixth: doubled, one update
        (north, 10, "A glass splinter was in the yoghurt", true),
    ];
    // Three days after the last one: a new, quiet cluster would need two more.
    stream.push((south, 9 + 72, sour_milk[1], false));
    for (site_id, hours, text, safety) in &stream {
        let mut new = complaint(*site_id, START + hours * HOUR, text);
        if *safety {
            new.category = "safety".to_owned();
            new.category_label = "Safety or health".to_owned();
            new.urgent = true;
        }
        record(store, new).await;
    }
    let before = outbox(store, dairy).await.len();

    // Small batches, so the sweep's cursor carries over between them.
    let policy = ClusterPolicy {
        batch: 3,
        ..ClusterPolicy::default()
    };
    let now = START + 100 * HOUR;
    let sweep = sweep_clusters(store, &policy, now).await.unwrap();
    assert_eq!(sweep.examined, stream.len());
    let kinds: Vec<AlertKind> = sweep.alerts.iter().map(|(_, kind)| *kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::Detected, AlertKind::Grew, AlertKind::Detected],
        "{sweep:?}"
    );
    let milk = sweep.alerts[0].0;
    assert_eq!(
        sweep.alerts[1].0, milk,
        "the update is about the same cluster"
    );
    // Nothing new: a second sweep finds nothing and alerts nothing.
    let again = sweep_clusters(store, &policy, now + HOUR).await.unwrap();
    assert_eq!((again.examined, again.alerts.len()), (0, 0));

    let rows = outbox(store, dairy).await;
    let events: Vec<(String, String)> = rows
        .iter()
        .skip(before)
        .map(|row| (row.event.clone(), row.target.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (
                "cluster.detected".to_owned(),
                "owner@dairy.example".to_owned()
            ),
            ("cluster.grew".to_owned(), "owner@dairy.example".to_owned()),
            (
                "cluster.detected".to_owned(),
                "owner@dairy.example".to_owned()
            ),
        ]
    );
    assert!(
        outbox(store, other)
            .await
            .iter()
            .all(|row| !row.event.starts_with("cluster"))
    );

    let window = policy.window_ms;
    let detail = store
        .cluster(dairy, milk, now, window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.summary.size, 6);
    assert!(!detail.summary.safety);
    let sites: Vec<&str> = detail
        .complaints
        .iter()
        .map(|c| c.site_key.as_str())
        .collect();
    assert_eq!(
        sites,
        [
            "dairy-north",
            "dairy-south",
            "dairy-south",
            "dairy-north",
            "dairy-south",
            "dairy-north"
        ],
        "across both sites, never the other merchant's"
    );
    assert!(
        store
            .cluster(other, milk, now, window)
            .await
            .unwrap()
            .is_none()
    );
    // Milk (6), delivery (2, no alert), safety (1); the late milk complaint
    // had nothing similar within its window.
    let all = store.clusters(dairy, false, 50, now, window).await.unwrap();
    let mut sizes: Vec<(i64, bool)> = all
        .iter()
        .map(|c| (c.size, c.alerted_at.is_some()))
        .collect();
    sizes.sort();
    assert_eq!(sizes, [(1, true), (2, false), (6, true)]);
    assert!(
        store
            .clusters(other, false, 50, now, window)
            .await
            .unwrap()
            .is_empty()
    );
    // The alert names the complaints, never their words.
    let due = store.due_notifications(now, 100).await.unwrap();
    let alert = due
        .iter()
        .find(|row| row.event == "cluster.detected")
        .unwrap();
    assert!(alert.payload.contains("HRD-"), "{}", alert.payload);
    assert!(!alert.payload.contains("牛奶"), "{}", alert.payload);
}

#[tokio::test]
async fn owners_get_a_daily_and_a_weekly_digest_once_per_period_in_their_language() {
    let temp = temp_store();
    let store = &temp.store;
    let (merchant, site_id) = site(store, "Acme", "acme").await;
    let owner = staff(store, merchant, "owner@acme.example", Role::Owner).await;
    let zweite = staff(store, merchant, "zweite@acme.example", Role::Owner).await;
    staff(store, merchant, "agent@acme.example", Role::Agent).await;
    store
        .set_staff_language(merchant, zweite, Some("de".to_owned()))
        .await
        .unwrap();
    let policy = DigestPolicy::default();
    // The first digest period after the fixtures' start.
    let day_end = policy.period_end(DigestKind::Daily, START + 48 * HOUR);
    for (hours, text) in [(20, "The lid"), (21, "The box"), (22, "The tape")] {
        record(store, complaint(site_id, day_end - hours * HOUR, text)).await;
    }
    let reference = record(store, complaint(site_id, day_end - 2 * HOUR, "Cold food")).await;
    store
        .inbox_act(
            merchant,
            owner,
            &reference,
            InboxAction::SetStatus {
                to: Status::Resolved,
                allowed_from: vec![Status::Received],
            },
            day_end - HOUR,
        )
        .await
        .unwrap();

    // Just before the hour: earlier periods (the site is older) go out.
    let clock = Clock::manual(day_end - 1);
    store
        .queue_due_digests(policy, clock.now_millis())
        .await
        .unwrap();
    let already = outbox(store, merchant).await.len();
    clock.advance(1);
    let queued = store
        .queue_due_digests(policy, clock.now_millis())
        .await
        .unwrap();
    assert_eq!(
        queued,
        [(merchant, DigestKind::Daily, 2)],
        "two owners, not the agent"
    );
    // Once per period: a second sweep in the same hour queues nothing.
    clock.advance(30 * MINUTE);
    assert!(
        store
            .queue_due_digests(policy, clock.now_millis())
            .await
            .unwrap()
            .is_empty()
    );

    let figures = store
        .digest_figures(merchant, day_end - 24 * HOUR, day_end)
        .await
        .unwrap();
    assert_eq!((figures.new, figures.resolved), (4, 1));
    assert_eq!(
        figures.top_value_orientations,
        [("reliability".to_owned(), 4)]
    );

    let sink = Sink::start().await;
    let notifier = Notifier::new(
        StaffMail::loopback(sink.port),
        Duration::from_secs(5),
        "https://heard.test",
    )
    .unwrap();
    let delivery = Policy {
        poll: Duration::from_millis(20),
        schedule: Schedule::default(),
        request_timeout: Duration::from_secs(5),
        batch: 64,
    };
    let daily: Vec<NotificationView> = outbox(store, merchant)
        .await
        .into_iter()
        .skip(already)
        .collect();
    assert_eq!(daily.len(), 2);
    deliver_due(store, &notifier, &clock, &delivery, &mut false)
        .await
        .unwrap();
    let total = outbox(store, merchant).await.len();
    let received = sink.wait_for(total).await;
    let english = received
        .iter()
        .find(|mail| mail.to == ["<owner@acme.example>"] && mail.data.contains("New complaints: 4"))
        .expect("the English daily digest");
    assert!(
        english.data.contains("New complaints: 4"),
        "{}",
        english.data
    );
    assert!(english.data.contains("Resolved: 1"), "{}", english.data);
    assert!(english.data.contains("reliability: 4"), "{}", english.data);
    assert!(!english.data.contains("lid"), "no shopper words");
    let german = received
        .iter()
        .find(|mail| {
            mail.to == ["<zweite@acme.example>"] && mail.data.contains("Neue Beschwerden: 4")
        })
        .expect("the German daily digest");
    assert!(
        german.subject().contains("Tägliche"),
        "{}",
        german.subject()
    );
    assert!(
        english.subject().starts_with("Daily complaint digest"),
        "{}",
        english.subject()
    );
}

#[test]
fn the_settings_shape_the_sweeps() {
    let settings = crate::Settings {
        escalation_delays_minutes: vec![5, 15, 45],
        cluster_window_hours: 24,
        cluster_threshold: 5,
        digest_hour: 18,
        digest_weekday: 5,
        ..crate::Settings::default()
    };
    let policy = SweepPolicy::from_settings(&settings);
    assert_eq!(
        policy.escalation.delays_ms,
        [5 * MINUTE, 15 * MINUTE, 45 * MINUTE]
    );
    assert_eq!(policy.clusters.window_ms, 24 * HOUR);
    assert_eq!(policy.clusters.threshold, 5);
    assert_eq!(policy.digest, DigestPolicy::new(18, 5));
}

#[tokio::test]
async fn the_sweep_task_finds_clusters_at_once_and_escalates_as_the_clock_moves() {
    let temp = temp_store();
    let store = &temp.store;
    let (merchant, site_id) = site(store, "Acme", "acme").await;
    staff(store, merchant, "owner@acme.example", Role::Owner).await;
    let clock = Clock::manual(START);
    let policy = SweepPolicy {
        poll: Duration::from_millis(10),
        slow_every_ms: MINUTE,
        ..SweepPolicy::default()
    };
    // The task as `serve()` starts it; nobody calls the sweeps directly.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(store.clone(), clock.clone(), policy, stopped));
    let mut splinter = complaint(site_id, START, "A glass splinter in the yoghurt");
    splinter.category = "safety".to_owned();
    splinter.urgent = true;
    let reference = record(store, splinter).await;
    let due = store
        .inbox_complaint(merchant, &reference, START)
        .await
        .unwrap()
        .unwrap()
        .first_response_due_at
        .unwrap();

    let events = |wanted: &'static str| async move {
        outbox(store, merchant)
            .await
            .into_iter()
            .filter(|row| row.event == wanted)
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events("cluster.detected").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no cluster alert");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Past the breach and past the owners' delay: the next slow round
    // takes all three steps (nobody is assigned; the owner hears once).
    clock.advance(due - START + 4 * HOUR);
    while events("complaint.escalated").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no escalation");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(events("cluster.detected").await, 1);
    assert_eq!(events("complaint.escalated").await, 1, "the owners' step");
}

#[tokio::test]
async fn a_breach_older_than_the_horizon_is_left_to_the_inbox_and_the_digest() {
    let temp = temp_store();
    let store = &temp.store;
    let (merchant, site_id) = site(store, "Acme", "acme").await;
    staff(store, merchant, "owner@acme.example", Role::Owner).await;
    let reference = record(store, complaint(site_id, START, "The lid")).await;
    let due = store
        .inbox_complaint(merchant, &reference, START)
        .await
        .unwrap()
        .unwrap()
        .first_response_due_at
        .unwrap();
    let policy = EscalationPolicy::default();
    let too_late = due + policy.delays_ms[2] + policy.horizon_ms + 1;
    let steps = store.escalate_overdue(&policy, too_late).await.unwrap();
    assert!(
        steps
            .iter()
            .all(|step| step.target != Target::FirstResponse),
        "{steps:?}"
    );
    // Within the horizon every missed step is still taken, in order.
    let steps = store.escalate_overdue(&policy, too_late - 2).await.unwrap();
    let levels: Vec<Level> = steps
        .iter()
        .filter(|step| step.target == Target::FirstResponse)
        .map(|step| step.level)
        .collect();
    assert_eq!(levels, [Level::Assignee, Level::TeamLead, Level::Owners]);
}
