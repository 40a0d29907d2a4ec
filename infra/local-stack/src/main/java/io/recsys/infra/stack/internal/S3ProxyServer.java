package io.recsys.infra.stack.internal;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;

/** S3Proxy on 127.0.0.1 over a directory (a bucket is a folder), with AWS v2/v4 signatures required. */
final class S3ProxyServer implements AutoCloseable {

  private final S3Proxy proxy;

  private S3ProxyServer(S3Proxy proxy) {
    this.proxy = proxy;
  }

  static S3ProxyServer start(Path dir, int port, String accessKey, String secretKey, String bucket)
      throws Exception {
    Files.createDirectories(dir.resolve(bucket));
    S3Proxy proxy = S3Proxy.builder()
        .blobStore(new FilesystemNio2BlobStore(dir.toAbsolutePath().toString()))
        .endpoint(URI.create("http://127.0.0.1:" + port))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
        .ignoreUnknownHeaders(true)
        .build();
    proxy.start();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!"STARTED".equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("S3Proxy did not start within 30 s (state " + proxy.getState() + ")");
      }
      Thread.sleep(10);
    }
    return new S3ProxyServer(proxy);
  }

  @Override
  public void close() throws Exception {
    proxy.stop();
  }
}
