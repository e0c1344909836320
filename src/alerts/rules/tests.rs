use super::*;

#[test]
fn overrides_apply_to_their_queue_only() {
    let mut settings = AlertSettings::default();
    let mut vip = QueueRules::default();
    vip.asa.threshold = 10.0;
    settings.queues.insert("vip".into(), vip);
    assert_eq!(settings.queue("vip").asa.threshold, 10.0);
    assert_eq!(settings.queue("sales").asa.threshold, 20.0);
    assert_eq!(settings.queue("sales"), &QueueRules::default());
}
