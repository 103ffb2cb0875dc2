"""CloudWatch: metrics that aggregate as CloudWatch does, SageMaker's endpoint metrics, alarms that
evaluate on schedule, composite alarms, SNS alarm actions, and the CloudFormation alarm type (``cfn.py``).

moto stores metric data and alarms but never evaluates an alarm, and aggregates without period
boundaries or percentiles. Here ``metric_store`` keeps the metrics, ``metrics_api`` serves
PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics from it, ``endpoint_metrics``
feeds it from every InvokeEndpoint, ``alarms`` evaluates moto's alarm records against it,
``composite_alarms`` judges composite alarms when their children change, and ``sns_action``
publishes CloudWatch's notification to an alarm's SNS topics.
"""

from __future__ import annotations

from localcloud.services.cloudwatch import endpoint_metrics
from localcloud.services.cloudwatch.alarm_history import AlarmHistory
from localcloud.services.cloudwatch.alarms import AlarmService
from localcloud.services.cloudwatch.endpoint_metrics import EndpointMetrics
from localcloud.services.cloudwatch.metric_store import MetricStore


class CloudWatchService:
    """The metrics of one local cloud and what feeds and reads them."""

    def __init__(self, cloud):
        self.cloud = cloud
        folder = cloud.state.path("cloudwatch")
        self.store = MetricStore(folder)
        self.endpoint_metrics = EndpointMetrics(self.store)
        endpoint_metrics.attach(cloud, self.endpoint_metrics)
        self.history = AlarmHistory(folder)
        self.alarms = AlarmService(cloud, self.store, self.history)

    def resume(self) -> None:
        """Alarms are evaluated once the restored state and every service are in place."""
        self.alarms.start()

    def shutdown(self) -> None:
        self.alarms.stop()
        endpoint_metrics.detach(self.cloud)
        self.endpoint_metrics.stop()
        self.store.close()
        self.history.close()


def install(cloud) -> CloudWatchService:
    from localcloud.services.cloudwatch import alarms, metrics_api
    from localcloud.services.cloudwatch.sns_action import SnsAction

    service = CloudWatchService(cloud)
    metrics_api.install(service)
    alarms.install()
    alarms.register_action("sns", SnsAction(cloud))
    cloud.state.note_backend("cloudwatch")
    return service
