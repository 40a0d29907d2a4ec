# Airflow 3 with the recsys DAGs' pinned packages (airflow-dags/requirements.txt: the Spark provider and pyspark
# 4.1.0, whose spark-submit needs a JRE) and the application jar the DAGs submit. Build after ./run build:
#   docker build -f infra/docker/airflow.Dockerfile -t recsys/airflow:0.1.0 .
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
COPY infra/app/target/recsys-app-0.1.0-SNAPSHOT.jar /opt/recsys/recsys-app.jar
USER airflow
COPY airflow-dags/requirements.txt /tmp/recsys-requirements.txt
RUN pip install --no-cache-dir -r /tmp/recsys-requirements.txt
COPY airflow-dags/dags /opt/recsys/dags
