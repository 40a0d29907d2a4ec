package io.recsys.spark;

import io.recsys.lake.LakeLayout;
import java.util.Map;
import picocli.CommandLine.Option;

/** The lake options every job takes ({@code @Mixin}). */
public final class LakeOptions {

  @Option(names = "--lake", description = "Lake root: a path, file:/..., or s3a://bucket/prefix (spark.recsys.lake).")
  String lake;

  @Option(names = "--s3-endpoint", description = "S3-compatible endpoint for s3a:// lakes, e.g. http://minio:9000 "
      + "(spark.recsys.s3.endpoint). Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS chain.")
  String s3Endpoint;

  public LakeLayout layout(Settings s) {
    String root = s.string(lake, "spark.recsys.lake", null);
    if (root == null || root.isBlank()) {
      throw UserError.of("No lake given", "Pass --lake PATH (a directory, file:/..., or s3a://bucket/prefix)");
    }
    return new LakeLayout(root);
  }

  public String s3Endpoint(Settings s) {
    return s.string(s3Endpoint, "spark.recsys.s3.endpoint", null);
  }

  /** Hadoop settings for the S3 endpoint, if one was given. */
  public Map<String, String> hadoopConf(Settings s) {
    return LakeAccess.s3aSettings(s3Endpoint(s));
  }
}
