# Shoal: `make run` and `make test` are all a new machine needs.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
STAMP := .stamps/deps

.PHONY: all deps build run test unit fuzz bench clean

all: build

$(STAMP): scripts/install-deps package-lock.json
	scripts/install-deps
	@mkdir -p .stamps && touch $(STAMP)

deps: $(STAMP)

$(BUILD)/build.ninja: $(STAMP)
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Start the node with its defaults.
run: build
	$(BUILD)/shoal serve

# Every test: unit, model, crash, interop, CLI, and a bounded fuzz run.
test: build fuzz
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Fuzz the decoders and proof verification for a bounded time (needs clang).
fuzz: $(STAMP)
	scripts/run-fuzz

bench: build
	bench/run

clean:
	rm -rf $(BUILD) build-fuzz .stamps
