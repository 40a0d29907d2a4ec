package io.recsys.app.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Replaces one "## " section of a Markdown file (or appends it), leaving the other sections as they are. */
final class Section {
  private Section() {}

  static void replace(Path file, String headingPrefix, String section) throws IOException {
    String text = Files.exists(file) ? Files.readString(file)
        : "# Benchmarks\n\nWritten by `./run bench`; every figure below was measured by the command named with it.\n\n";
    int start = text.indexOf("\n" + headingPrefix);
    if (start < 0) {
      text = text.stripTrailing() + "\n\n" + section;
    } else {
      int next = text.indexOf("\n## ", start + 1);
      text = text.substring(0, start + 1) + section + (next < 0 ? "" : "\n" + text.substring(next + 1));
    }
    Files.writeString(file, text.stripTrailing() + "\n");
  }
}
