// The "Usage Examples > JavaScript/Node.js" example of the HTTP API guide, verbatim.
// Added: this comment only. The `.mjs` extension makes Node (>= 18, global fetch) run it as
// an ES module, where top-level `await` is allowed: `node fetch_example.mjs`.
// Trigger workflow
const response = await fetch('http://localhost:8000/workflows/shopping', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    items: [
      { fruit: 'APPLE', amount: 5 },
      { fruit: 'BANANA', amount: 3 }
    ]
  })
});

const result = await response.json();
console.log('Workflow ID:', result.workflow_id);
console.log('Result:', result.result);
