package io.recsys.spark;

import java.io.IOException;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * Checks, before a job starts, that the lake root can be written: the scheme has a file system, the endpoint
 * answers, the bucket exists. Fails fast with a {@link UserError} instead of letting S3A retry for minutes.
 */
public final class LakeAccess {

  private LakeAccess() {}

  /** S3A settings from the command line; credentials come from the environment or the provider chain. */
  public static Map<String, String> s3aSettings(String endpoint) {
    Map<String, String> conf = new HashMap<>();
    if (endpoint != null && !endpoint.isBlank()) {
      conf.put("fs.s3a.endpoint", endpoint);
      conf.put("fs.s3a.path.style.access", "true");
      conf.put("fs.s3a.connection.ssl.enabled", String.valueOf(endpoint.startsWith("https")));
      conf.put("fs.s3a.endpoint.region", System.getenv().getOrDefault("AWS_REGION", "us-east-1"));
    }
    return conf;
  }

  /** Creates the lake root if needed and proves it is reachable. */
  public static void check(SparkSession spark, String lakeRoot) {
    URI uri;
    try {
      uri = new Path(lakeRoot).toUri();
    } catch (IllegalArgumentException e) {
      throw UserError.badArgument("--lake", lakeRoot, "a path or URI such as /data/lake or s3a://bucket/lake");
    }
    Configuration probe = new Configuration(spark.sparkContext().hadoopConfiguration());
    String scheme = uri.getScheme() == null ? "file" : uri.getScheme();
    probe.setBoolean("fs." + scheme + ".impl.disable.cache", true);
    probe.set("fs.s3a.attempts.maximum", "1");
    probe.set("fs.s3a.retry.limit", "1");
    probe.set("fs.s3a.connection.establish.timeout", "5s");
    probe.set("fs.s3a.connection.timeout", "10s");
    Path root = new Path(lakeRoot);
    try (FileSystem fs = root.getFileSystem(probe)) {
      if (!fs.exists(root)) {
        fs.mkdirs(root);
      }
      if (!fs.getFileStatus(root).isDirectory()) {
        throw UserError.of("The lake path " + lakeRoot + " exists but is not a directory", "Point --lake at a directory");
      }
    } catch (UserError e) {
      throw e;
    } catch (org.apache.hadoop.fs.UnsupportedFileSystemException e) {
      throw UserError.of("No file system for scheme '" + scheme + "' in --lake " + lakeRoot,
          "Use file:/, s3a:// or another Hadoop scheme whose connector is on the classpath", e);
    } catch (IOException | RuntimeException e) {
      String hint = scheme.startsWith("s3")
          ? "Check --s3-endpoint (now " + probe.get("fs.s3a.endpoint", "AWS default") + "), the bucket name and "
            + "the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or spark.hadoop.fs.s3a.*)"
          : "Check that the path exists or can be created and is writable";
      throw UserError.of("Cannot reach the lake at " + lakeRoot + ": " + rootMessage(e), hint, e);
    }
  }

  /** The innermost cause's message (what a user can act on), or its class name when it has none. */
  public static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    int nl = m.indexOf('\n');
    return nl > 0 ? m.substring(0, nl) : m;
  }
}
