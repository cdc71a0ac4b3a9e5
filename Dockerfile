# authgate container image: a static binary (CGO off: the SQLite driver is pure Go) on
# distroless/static (CA certificates, /etc/passwd with nonroot, no shell), run as nonroot
# with the data directory (SQLite store, master key, CA) as a volume.
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg BUILD_DATE=$(git log -1 --format=%cI) -t authgate .
#   docker run -p 8080:8080 -v authgate-data:/var/lib/authgate authgate
# internal/packaging builds the binary with the flags of the go build line below (read from
# this file) and checks that it is static and starts. See docs/operations.md (Container).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG BUILD_DATE=
ENV CGO_ENABLED=0
RUN go build -trimpath -buildvcs=false -ldflags "-s -w -X github.com/authgate/authgate/internal/cli.Version=${VERSION} -X github.com/authgate/authgate/internal/cli.Commit=${COMMIT} -X github.com/authgate/authgate/internal/cli.BuildDate=${BUILD_DATE}" -o /out/authgate ./cmd/authgate
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authgate /usr/local/bin/authgate
# The volume's mount point, owned by nonroot (65532) so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/authgate
ENV AUTHGATE_DATA_DIR=/var/lib/authgate \
    AUTHGATE_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/authgate"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/authgate"]
CMD ["serve"]
