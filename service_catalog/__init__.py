"""The Service Catalog portfolio and the SageMaker project product, built with the AWS CDK."""

import os

# The jsii runtime prints a banner when Node is past its end of life; it is noise in
# every synthesis and test run, and the Node version is the machine's business.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "16,18,20")
