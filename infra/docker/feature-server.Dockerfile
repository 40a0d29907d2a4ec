# The Feast-compatible gRPC feature server (no Spark): gRPC on 6566, Prometheus /metrics on 9466. Build after
# ./run build, from the repository root:
#   docker build -f infra/docker/feature-server.Dockerfile -t recsys/feature-server:0.1.0 .
FROM eclipse-temurin:17-jre
COPY serving/target/recsys-feature-server.jar /opt/recsys/recsys-feature-server.jar
EXPOSE 6566 9466
ENTRYPOINT ["java", "-Dcom.google.protobuf.use_unsafe_pre22_gencode=true", "-jar", "/opt/recsys/recsys-feature-server.jar"]
