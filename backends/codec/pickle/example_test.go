package pickle_test

import (
	"fmt"

	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
)

func ExampleAppend() {
	// What Celery's database backend stores for a PROGRESS meta dict.
	b, err := pickle.Append(nil, py.Dict{{Key: "done", Value: 1}, {Key: "total", Value: 2}}, 5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%X\n", b)
	// Output:
	// 80059518000000000000007D94288C04646F6E65944B018C05746F74616C944B02752E
}

func ExampleDecode() {
	// pickle.dumps({'exc_type': 'ValueError', 'exc_message': ('boom!',), 'exc_module': 'builtins'}, 5)
	data := []byte("\x80\x05\x95M\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x08exc_type\x94\x8c\nValueError\x94" +
		"\x8c\x0bexc_message\x94\x8c\x05boom!\x94\x85\x94\x8c\nexc_module\x94\x8c\x08builtins\x94u.")
	v, err := pickle.Decode(data)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%#v\n", v)
	// Output:
	// py.Dict{py.Item{Key:"exc_type", Value:"ValueError"}, py.Item{Key:"exc_message", Value:py.Tuple{"boom!"}}, py.Item{Key:"exc_module", Value:"builtins"}}
}
