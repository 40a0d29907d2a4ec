package io.recsys.infra.stack;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An S3-compatible endpoint, its credentials and the bucket of the lake.
 *
 * @param endpoint e.g. {@code http://127.0.0.1:39000}
 */
public record S3Endpoint(String endpoint, String accessKey, String secretKey, String bucket) {

  /** The lake root as an s3a:// URI. */
  public String lakeUri() {
    return "s3a://" + bucket + "/lake";
  }

  /**
   * Hadoop settings that point S3A at this endpoint. Path-style access is required by S3Proxy and MinIO
   * when the endpoint is not a virtual-host name.
   */
  public Map<String, String> hadoopConf() {
    Map<String, String> conf = new LinkedHashMap<>();
    conf.put("fs.s3a.endpoint", endpoint);
    conf.put("fs.s3a.access.key", accessKey);
    conf.put("fs.s3a.secret.key", secretKey);
    conf.put("fs.s3a.path.style.access", "true");
    conf.put("fs.s3a.connection.ssl.enabled", String.valueOf(endpoint.startsWith("https")));
    conf.put("fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    conf.put("fs.s3a.endpoint.region", "us-east-1");
    conf.put("fs.s3a.change.detection.mode", "none");
    return conf;
  }
}
