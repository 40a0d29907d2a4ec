package io.recsys.app;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What a Spark 4.1.0 distribution ships (Spark, Scala, Hadoop client, Jackson, log4j, ...), taken from the test
 * classpath without what must come from our jar, and a SPARK_HOME made of it: what spark-submit and a standalone
 * cluster run on in the tests, with no Spark download.
 */
final class SparkDistribution {

  /** Jars a Spark distribution does not have: they must be inside recsys-app.jar. */
  static final Pattern NOT_IN_SPARK = Pattern.compile(
      ".*/(recsys-[^/]*|delta-[^/]*|spark-sql-kafka[^/]*|spark-token-provider[^/]*|kafka-clients[^/]*|hadoop-aws[^/]*"
          + "|software/amazon/awssdk/.*|commons-csv[^/]*|picocli[^/]*|prometheus-metrics[^/]*|failsafe[^/]*"
          + "|testcontainers/.*|org/testcontainers/.*|junit[^/]*|assertj[^/]*|opentest4j[^/]*|apiguardian[^/]*"
          + "|docker-java[^/]*|duct-tape[^/]*|jna[^/]*|unitycatalog[^/]*)\\.jar|.*/(test-)?classes/?");

  private SparkDistribution() {}

  /** The distribution's jars, as a classpath. */
  static String classpath() {
    String cp = System.getProperty("java.class.path");
    if (cp.split(File.pathSeparator).length == 1 && cp.endsWith(".jar")) {
      cp = System.getProperty("surefire.test.class.path", cp);
    }
    return Arrays.stream(cp.split(File.pathSeparator))
        .filter(e -> e.endsWith(".jar") && !NOT_IN_SPARK.matcher(e.replace('\\', '/')).matches())
        .collect(Collectors.joining(File.pathSeparator));
  }

  /** A SPARK_HOME under {@code dir}: jars/ links to the distribution's jars, as the workers' launcher expects. */
  static Path home(Path dir) throws IOException {
    Path jars = Files.createDirectories(dir.resolve("jars"));
    for (String jar : classpath().split(File.pathSeparator)) {
      Path target = Path.of(jar);
      Path link = jars.resolve(target.getFileName());
      if (!Files.exists(link)) {
        Files.createSymbolicLink(link, target);
      }
    }
    Files.createDirectories(dir.resolve("conf"));
    return dir;
  }

  /** java, this JVM's module and Netty flags, and {@code @argfile} holding {@code -cp <classpath>}. */
  static List<String> java(Path argFile, String classpath) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmFlags());
    Files.writeString(argFile, "-cp \"" + classpath + "\"");
    cmd.add("@" + argFile);
    return cmd;
  }

  /** The flags Spark needs on Java 17 (the ones this test JVM runs with). */
  static List<String> jvmFlags() {
    return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-") || a.startsWith("-Djdk") || a.startsWith("-Dio.netty")
            || a.startsWith("-Dcom.google") || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions"))
        .toList();
  }
}
