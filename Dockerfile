# keel-discovery in an image. The build stage compiles it with Debian 12's gRPC,
# protobuf, Abseil and the other libraries (the build part of scripts/dev.sh). The
# runtime stage is debian:12-slim plus only the shared libraries the binary loads.
#
#   docker build -t keel-discovery:0.1.0 .
#   docker run --rm keel-discovery:0.1.0 --version
#
# test/e2e/dockerfile_runtime_test.sh keeps the runtime apt-get line equal to the
# Debian packages that own what `ldd keel-discovery` lists, and the build line in
# step with scripts/dev.sh. Change the two lines below with the code, and run it.

FROM debian:12 AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates g++ cmake ninja-build pkg-config nodejs npm \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev libre2-dev \
      libcpprest-dev libyaml-cpp-dev libspdlog-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The Envoy/xDS .proto files come from the pinned npm package @grpc/grpc-js-xds
# (its deps/ folder). This layer is reused while the lock file is unchanged.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

COPY CMakeLists.txt ./
COPY proto proto
COPY pkg pkg
COPY pilot pilot
COPY citadel citadel
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
 && cmake --build build --target keel-discovery \
 && strip build/pilot/keel-discovery

FROM debian:12-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libabsl20220623 libbrotli1 libc-ares2 libc6 libcpprest2.10 libfmt9 libgcc-s1 \
      libgrpc++1.51 libgrpc29 libprotobuf32 libre2-9 libspdlog1.10 libssl3 libstdc++6 \
      libyaml-cpp0.7 zlib1g \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /src/build/pilot/keel-discovery /usr/local/bin/keel-discovery

# Istio's proxy UID; the chart's securityContext runs it with runAsUser 1337 too.
USER 1337:1337
EXPOSE 15010 15012 15014
ENTRYPOINT ["/usr/local/bin/keel-discovery"]
