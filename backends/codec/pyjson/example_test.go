package pyjson_test

import (
	"fmt"

	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

func ExampleAppend() {
	meta := py.Dict{
		{Key: "status", Value: "SUCCESS"},
		{Key: "result", Value: py.Tuple{0.1, 1e16, "é"}},
		{Key: "traceback", Value: nil},
		{Key: "children", Value: []any{}},
		{Key: "task_id", Value: "5fea23cf-4557-4b85-b5d8-50aa181cb090"},
	}
	b, err := pyjson.Append(nil, meta)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"status": "SUCCESS", "result": [0.1, 1e+16, "\u00e9"], "traceback": null, "children": [], "task_id": "5fea23cf-4557-4b85-b5d8-50aa181cb090"}
}

func ExampleDecode() {
	v, err := pyjson.Decode([]byte(`{"a": 1, "b": [2.5, NaN], "a": 3}`))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v\n", v)
	// Output:
	// [{a 3} {b [2.5 NaN]}]
}
