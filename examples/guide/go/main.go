// The "Usage Examples > Go" example of the HTTP API guide, verbatim (run: `go run .`).
// Added: this comment and go.mod (module guideexample, go 1.19). Note: Go's builtin
// println writes to standard error, so the "Result:" line appears on stderr.
package main

import (
    "bytes"
    "encoding/json"
    "net/http"
)

type Item struct {
    Fruit  string `json:"fruit"`
    Amount int    `json:"amount"`
}

type Request struct {
    Items []Item `json:"items"`
}

func main() {
    req := Request{
        Items: []Item{
            {Fruit: "APPLE", Amount: 5},
            {Fruit: "BANANA", Amount: 3},
        },
    }
    
    body, _ := json.Marshal(req)
    resp, _ := http.Post(
        "http://localhost:8000/workflows/shopping",
        "application/json",
        bytes.NewBuffer(body),
    )
    
    var result map[string]interface{}
    json.NewDecoder(resp.Body).Decode(&result)
    
    println("Result:", result["result"].(string))
}
