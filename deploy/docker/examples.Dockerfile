# syntax=docker/dockerfile:1
# The example apps (web, orders) as one image, for the Kubernetes and compose examples:
#   docker build -f deploy/docker/examples.Dockerfile -t weft/examples:0.1.0 .
# They use Node's standard library only, so there is nothing to install: the build stage
# just gathers the files.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS files
WORKDIR /apps
COPY examples/apps/ ./
RUN printf '{"type":"module"}\n' > package.json

FROM ${NODE_IMAGE}
COPY --from=files /apps /apps
USER 1000:1000
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["/apps/web.ts"]
