use super::*;

fn up(signals: &SourceSignals) -> bool {
    signals.broker_up.load(Ordering::Relaxed)
}

/// The states of one reconnection after a broker outage, as librdkafka reported them once a
/// second in the broker-outage test: the bootstrap connection up, then retired while the
/// cluster's broker is still in its backoff, then that broker up.
#[test]
fn a_reconnection_s_gap_without_an_up_connection_is_not_an_outage() {
    let signals = SourceSignals::default();
    signals.all_brokers_down();
    assert!(!up(&signals));
    signals.broker_states(["UP", "TRY_CONNECT", "TRY_CONNECT"].into_iter());
    assert!(up(&signals), "the bootstrap connection is up");
    signals.broker_states(["TRY_CONNECT", "TRY_CONNECT"].into_iter());
    assert!(up(&signals), "reconnecting, nothing failed");
    signals.broker_states(["UP", "TRY_CONNECT"].into_iter());
    assert!(up(&signals));
    signals.all_brokers_down();
    assert!(!up(&signals), "librdkafka's report of a loss lowers it");
}

#[test]
fn the_source_is_down_until_a_connection_is_up() {
    let signals = SourceSignals::default();
    signals.broker_states(["INIT", "CONNECT"].into_iter());
    assert!(!up(&signals));
    signals.broker_states(["APIVERSION_QUERY", "UP"].into_iter());
    assert!(up(&signals));
}

/// A clean stop after the background commit took every stored offset (or with nothing
/// consumed) gets `NoOffset` from librdkafka: nothing to commit, not a failure worth a warning.
#[test]
fn a_final_commit_with_nothing_new_is_not_a_failure() {
    assert!(matches!(final_commit(Ok(())), FinalCommit::Committed));
    let nothing = KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset);
    assert!(matches!(
        final_commit(Err(nothing)),
        FinalCommit::NothingNew
    ));
    for code in [
        RDKafkaErrorCode::RebalanceInProgress,
        RDKafkaErrorCode::RequestTimedOut,
        RDKafkaErrorCode::UnknownMemberId,
    ] {
        let failed = final_commit(Err(KafkaError::ConsumerCommit(code)));
        assert!(
            matches!(&failed, FinalCommit::Failed(e) if e.rdkafka_error_code() == Some(code)),
            "{failed:?}"
        );
    }
}
