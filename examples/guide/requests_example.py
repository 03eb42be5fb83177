# The "Usage Examples > Python" example of the HTTP API guide, verbatim.
# Added: this comment only.
import requests

# Trigger workflow
response = requests.post(
    "http://localhost:8000/workflows/shopping",
    json={
        "items": [
            {"fruit": "APPLE", "amount": 5},
            {"fruit": "BANANA", "amount": 3}
        ]
    }
)

result = response.json()
print(f"Workflow ID: {result['workflow_id']}")
print(f"Result: {result['result']}")
