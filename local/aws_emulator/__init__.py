"""A local emulator of the AWS services a SAM application uses (API Gateway with a JWT authorizer,
Lambda execution environments, SQS and DynamoDB stream event sources, Logs subscriptions, Scheduler, DynamoDB
Local, moto server). Never shipped to Lambda."""
