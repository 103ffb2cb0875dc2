"""CloudWatch: the CloudFormation alarm type."""
