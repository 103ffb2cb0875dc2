"""AWS::CloudWatch::Alarm through moto's ``put_metric_alarm``, AWS::CloudWatch::CompositeAlarm through
``composite_alarms.put`` (Ref = alarm name, GetAtt Arn)."""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from localcloud.services.cloudformation.base import ResourceFailed, StackResource
from localcloud.services.cloudformation.properties import as_bool, as_int, require
from localcloud.services.cloudwatch import composite_alarms

TYPE = "AWS::CloudWatch::Alarm"


class _AlarmResource(StackResource):
    """What both alarm types share: named by AlarmName, GetAtt Arn, put again on update, deleted by name.
    (Not a CloudFormationModel itself: moto takes the direct subclasses of that as resource types.)"""

    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = ("Arn",)

    def __init__(self, name: str, arn: str):
        self.physical_id = name
        self.attributes = {"Arn": arn}

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> _AlarmResource:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._put(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        updated = cls._put(new_resource_name, cloudformation_json["Properties"], account_id, region_name)
        if new_resource_name != original_resource.physical_id:
            original_resource.delete(account_id, region_name)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_id])


class CfnAlarm(_AlarmResource, CloudFormationModel):
    TYPE = TYPE

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> CfnAlarm:
        if properties.get("Metrics"):
            raise ResourceFailed(
                f"{TYPE} {name}: metric math alarms (Metrics) are not supported locally; "
                "use MetricName/Namespace/Statistic"
            )
        statistic, extended = properties.get("Statistic"), properties.get("ExtendedStatistic")
        if not statistic and not extended:
            raise ResourceFailed(f"{TYPE} {name}: set Statistic or ExtendedStatistic")
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=require(properties, "Namespace", TYPE),
            metric_name=require(properties, "MetricName", TYPE),
            comparison_operator=require(properties, "ComparisonOperator", TYPE),
            evaluation_periods=as_int(require(properties, "EvaluationPeriods", TYPE), "EvaluationPeriods"),
            period=as_int(require(properties, "Period", TYPE), "Period"),
            threshold=float(require(properties, "Threshold", TYPE)),
            statistic=statistic,
            extended_statistic=extended,
            description=properties.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in properties.get("Dimensions") or []],
            alarm_actions=properties.get("AlarmActions") or [],
            ok_actions=properties.get("OKActions") or [],
            insufficient_data_actions=properties.get("InsufficientDataActions") or [],
            datapoints_to_alarm=(
                as_int(properties["DatapointsToAlarm"], "DatapointsToAlarm")
                if properties.get("DatapointsToAlarm") is not None
                else None
            ),
            unit=properties.get("Unit"),
            actions_enabled=as_bool(properties.get("ActionsEnabled", True)),
            treat_missing_data=properties.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=properties.get("ThresholdMetricId"),
        )
        return cls(name, alarm.alarm_arn)


COMPOSITE_TYPE = "AWS::CloudWatch::CompositeAlarm"


class CfnCompositeAlarm(_AlarmResource, CloudFormationModel):
    TYPE = COMPOSITE_TYPE

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> CfnCompositeAlarm:
        if properties.get("ActionsSuppressor"):
            raise ResourceFailed(f"{COMPOSITE_TYPE} {name}: ActionsSuppressor is not supported locally; leave it out")
        try:
            composite = composite_alarms.put(
                cloudwatch_backends[account_id][region_name],
                name,
                require(properties, "AlarmRule", COMPOSITE_TYPE),
                description=properties.get("AlarmDescription"),
                alarm_actions=properties.get("AlarmActions") or [],
                ok_actions=properties.get("OKActions") or [],
                insufficient_data_actions=properties.get("InsufficientDataActions") or [],
                actions_enabled=as_bool(properties.get("ActionsEnabled", True)),
            )
        except ValidationError as error:
            raise ResourceFailed(f"{COMPOSITE_TYPE} {name}: {error.message}") from None
        return cls(name, composite.alarm_arn)
