//! One alerting step after each publish, the same in `demo` and `run`: evaluate the rules on
//! the snapshots just published, record the result on `/metrics`, push to Alertmanager when
//! one is configured, and log each transition. The caller sends the transitions on to Kafka,
//! where there is a Kafka.

use tokio_util::sync::CancellationToken;

use super::{AlertEvaluator, AlertSettings, AlertState, HealthInputs, Transition};
use crate::event::Millis;
use crate::kpi::KpiSnapshot;
use crate::sinks::alert_metrics::AlertMetrics;
use crate::sinks::alertmanager::{AlertmanagerError, AlertmanagerSink};

pub struct AlertDispatch {
    settings: AlertSettings,
    evaluator: AlertEvaluator,
    metrics: AlertMetrics,
    alertmanager: Option<AlertmanagerSink>,
}

impl AlertDispatch {
    /// Starts the Alertmanager push task when `alerts.alertmanager_url` is set: call inside the
    /// tokio runtime, after the metrics recorder is installed.
    pub fn start(
        settings: AlertSettings,
        shutdown: &CancellationToken,
    ) -> Result<AlertDispatch, AlertmanagerError> {
        let alertmanager = match &settings.alertmanager_url {
            Some(url) => {
                let (sink, _task) = AlertmanagerSink::spawn(url, &settings, shutdown.clone())?;
                tracing::info!(%url, "pushing alerts to Alertmanager");
                Some(sink)
            }
            None => None,
        };
        Ok(AlertDispatch {
            settings,
            evaluator: AlertEvaluator::new(),
            metrics: AlertMetrics::new(),
            alertmanager,
        })
    }

    /// Evaluates every rule at `now` (wall-clock time: `for` durations and Alertmanager's
    /// `endsAt` are real time) and returns the transitions.
    pub fn evaluate(
        &mut self,
        snapshots: &[KpiSnapshot],
        health: &HealthInputs,
        now: Millis,
    ) -> Vec<Transition> {
        let transitions = self
            .evaluator
            .evaluate(snapshots, health, now, &self.settings);
        for t in &transitions {
            let a = &t.alert;
            let queue = a.queue.as_deref().unwrap_or("");
            match t.state {
                AlertState::Firing => tracing::warn!(
                    alert = a.name.as_str(),
                    queue,
                    severity = a.severity.as_str(),
                    "alert firing: {}",
                    a.summary
                ),
                AlertState::Resolved => {
                    tracing::info!(alert = a.name.as_str(), queue, "alert resolved")
                }
            }
        }
        self.metrics.record(&transitions, self.evaluator.firing());
        if let Some(am) = &mut self.alertmanager {
            am.publish(now, &transitions, self.evaluator.firing());
        }
        transitions
    }
}
