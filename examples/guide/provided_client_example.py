# The "Using the provided client" example of the HTTP API guide, verbatim.
# Added: this comment only. Run it from examples/guide so that `api` is importable.
from api.example_api_client import TemporalAPIClient

client = TemporalAPIClient()

# Synchronous
result = client.trigger_shopping_workflow_sync([
    {"fruit": "APPLE", "amount": 5}
])
print(result['result'])

# Asynchronous
workflow = client.trigger_shopping_workflow_async([
    {"fruit": "BANANA", "amount": 3}
])

# Wait for result
final_result = client.wait_for_workflow(workflow['workflow_id'])
print(final_result['result'])
