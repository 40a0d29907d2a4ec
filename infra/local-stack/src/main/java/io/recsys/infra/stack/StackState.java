package io.recsys.infra.stack;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * What a running embedded stack writes to {@code <dir>/stack.json} once every service listens: the process to
 * signal and the addresses to connect to. {@code ./run stack status} and the parent of the stack read it.
 */
public record StackState(String nonce, long pid, String kafka, String redis, String s3Endpoint,
    String s3AccessKey, String s3SecretKey, String s3Bucket) {

  private static final ObjectMapper JSON = new ObjectMapper();
  public static final String FILE = "stack.json";

  public S3Endpoint s3() {
    return new S3Endpoint(s3Endpoint, s3AccessKey, s3SecretKey, s3Bucket);
  }

  public void write(Path dir) throws IOException {
    Path tmp = dir.resolve(FILE + ".tmp");
    JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), this);
    Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The state in {@code dir}, or {@code null} if there is none. */
  public static StackState read(Path dir) throws IOException {
    Path f = dir.resolve(FILE);
    return Files.exists(f) ? JSON.readValue(f.toFile(), StackState.class) : null;
  }
}
