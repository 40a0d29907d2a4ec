# Spark 4.1.0 (Scala 2.13, Java 17) with the recsys application jar: the image of the compose stack's Spark
# services and of the Spark Operator's SparkApplications. Build after ./run build, from the repository root:
#   docker build -f infra/docker/spark.Dockerfile -t recsys/spark:0.1.0 .
FROM apache/spark:4.1.0-scala2.13-java17-ubuntu
COPY infra/app/target/recsys-app-0.1.0-SNAPSHOT.jar /opt/recsys/recsys-app.jar
