"""S3: bucket policies and bucket properties in CloudFormation, which moto skips or gets wrong."""
