use super::*;

fn sums(
    counts: &[(Count, u64)],
    durations: &[(Sum, i64)],
    agents: &[(AgentTime, i64)],
) -> WindowSums {
    let mut s = WindowSums::default();
    for &(c, v) in counts {
        s.counts[c as usize] = v;
    }
    for &(d, v) in durations {
        s.sums_ms[d as usize] = v;
    }
    for &(a, v) in agents {
        s.agent_ms[a as usize] = v;
    }
    s
}

#[test]
fn count_indices_match_their_position() {
    for (i, c) in Count::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i);
    }
}

#[test]
fn empty_window_has_no_ratios_rather_than_zeros() {
    let k = window_kpis(&WindowSums::default(), WaitQuantiles::default());
    assert_eq!(k.offered, 0);
    assert_eq!(k.service_level, None);
    assert_eq!(k.service_level_ignore_abandons, None);
    assert_eq!(k.service_level_positive, None);
    assert_eq!(k.asa_seconds, None);
    assert_eq!(k.abandon_rate, None);
    assert_eq!(k.aht_seconds, None);
    assert_eq!(k.rings_per_answer, None);
    assert_eq!(k.transfer_rate, None);
    assert_eq!(k.occupancy, None);
    assert_eq!(k.not_ready_ratio, None);
}

#[test]
fn three_service_level_variants() {
    // 6 answered within T, 2 abandoned within T, 2 reached T while waiting:
    // default 6/10, ignore abandons 6/8, positive 8/10.
    let s = sums(
        &[
            (Count::AnsweredWithinT, 6),
            (Count::AbandonedWithinT, 2),
            (Count::ReachedT, 2),
        ],
        &[],
        &[],
    );
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!(k.service_level, Some(0.6));
    assert_eq!(k.service_level_ignore_abandons, Some(0.75));
    assert_eq!(k.service_level_positive, Some(0.8));
}

#[test]
fn handle_time_components_and_aht() {
    // 4 handled calls (wrapped in the window): 800 s talk, 120 s hold. 3 ACW completions
    // (wrap_end in the window) totalling 150 s, whose calls' whole handle times
    // (wrap_end − answered) are 240 + 260 + 280 = 780 s.
    let s = sums(
        &[
            (Count::Handled, 4),
            (Count::AcwCompleted, 3),
            (Count::Answered, 5),
            (Count::TransferredOut, 1),
        ],
        &[
            (Sum::Talk, 800_000),
            (Sum::Hold, 120_000),
            (Sum::Acw, 150_000),
            (Sum::Handle, 780_000),
            (Sum::WaitAnswered, 50_000),
        ],
        &[],
    );
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!(k.avg_talk_seconds, Some(200.0));
    assert_eq!(k.avg_hold_seconds, Some(30.0));
    assert_eq!(k.avg_acw_seconds, Some(50.0));
    // AHT over one set of calls: 780 / 3 = 260 s (adding the three means, 200 + 30 + 50 =
    // 280 s, would mix the 4 calls wrapped with the 3 whose ACW ended).
    assert_eq!(k.aht_seconds, Some(260.0));
    assert_eq!(k.asa_seconds, Some(10.0));
    assert_eq!(k.transfer_rate, Some(0.2));
}

#[test]
fn aht_needs_a_completed_acw_not_a_wrap() {
    // Calls wrapped but none wrapped up yet: talk and hold have means, AHT has no value.
    let s = sums(
        &[(Count::Handled, 2)],
        &[(Sum::Talk, 200_000), (Sum::Hold, 20_000)],
        &[],
    );
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!((k.avg_talk_seconds, k.aht_seconds), (Some(100.0), None));
}

#[test]
fn sum_indices_match_their_position() {
    for (i, s) in Sum::ALL.iter().enumerate() {
        assert_eq!(*s as usize, i);
    }
}

#[test]
fn occupancy_counts_acw_as_busy_and_not_ready_against_logged_in() {
    // busy 300 s + acw 100 s, ready 100 s, not ready 100 s:
    // occupancy 400/500, not-ready 100/600.
    let s = sums(
        &[],
        &[],
        &[
            (AgentTime::Busy, 300_000),
            (AgentTime::Acw, 100_000),
            (AgentTime::Ready, 100_000),
            (AgentTime::NotReady, 100_000),
        ],
    );
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!(k.occupancy, Some(0.8));
    assert_eq!(k.not_ready_ratio, Some(100.0 / 600.0));
}

#[test]
fn busy_other_is_logged_in_time_but_neither_busy_nor_available() {
    // The same agent time plus 200 s on other queues' calls: occupancy stays 400/500, not
    // ready is 100 of 800 logged-in seconds.
    let s = sums(
        &[],
        &[],
        &[
            (AgentTime::Busy, 300_000),
            (AgentTime::Acw, 100_000),
            (AgentTime::Ready, 100_000),
            (AgentTime::NotReady, 100_000),
            (AgentTime::BusyOther, 200_000),
        ],
    );
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!(k.busy_other_agent_seconds, 200.0);
    assert_eq!(k.occupancy, Some(0.8));
    assert_eq!(k.not_ready_ratio, Some(100.0 / 800.0));
    // Only busy on other queues: logged in, no occupancy to speak of.
    let s = sums(&[], &[], &[(AgentTime::BusyOther, 60_000)]);
    let k = window_kpis(&s, WaitQuantiles::default());
    assert_eq!((k.occupancy, k.not_ready_ratio), (None, Some(0.0)));
}

#[test]
fn abandon_rate_excludes_short_abandons() {
    let s = sums(
        &[
            (Count::Answered, 18),
            (Count::Abandoned, 2),
            (Count::ShortAbandoned, 5),
        ],
        &[],
        &[],
    );
    assert_eq!(
        window_kpis(&s, WaitQuantiles::default()).abandon_rate,
        Some(0.1)
    );
}

#[test]
fn rings_round_up_to_whole_cadences() {
    let q = QueueKpiSettings::default(); // 5 s cadence
    assert_eq!(rings_before_answer(None, &q), 0);
    assert_eq!(rings_before_answer(Some(0), &q), 0);
    assert_eq!(rings_before_answer(Some(1), &q), 1);
    assert_eq!(rings_before_answer(Some(5_000), &q), 1);
    assert_eq!(rings_before_answer(Some(5_001), &q), 2);
    assert_eq!(rings_before_answer(Some(20_000), &q), 4);
}
