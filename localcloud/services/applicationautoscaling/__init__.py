"""Application Auto Scaling: the CloudFormation scalable target and scaling policy types."""
