// pgJDBC through Outpost: server-side prepared statements from the first
// execution (prepareThreshold=1) with binary transfer, compared by
// test/compat-jdbc.test.ts with the same program run directly against
// Postgres. Prints one JSON document. Run as a single-file source program:
//   java -cp /usr/share/java/postgresql.jar JdbcCompat.java PORT MODE [METRICS_URL]
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class JdbcCompat {
  static final Map<String, String> results = new LinkedHashMap<>();
  static final Map<String, String> routes = new LinkedHashMap<>();
  static String metrics;

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }

  static String hex(byte[] bytes) {
    StringBuilder b = new StringBuilder();
    for (byte x : bytes) b.append(String.format("%02x", x));
    return b.toString();
  }

  /** A value as [java class, its text]: a decoding difference shows up in either. */
  static String value(ResultSet rs, int i) throws SQLException {
    Object o = rs.getObject(i);
    if (o == null) return "null";
    String text;
    if (o instanceof byte[]) text = hex((byte[]) o);
    else if (o instanceof Array) {
      Object[] items = (Object[]) ((Array) o).getArray();
      List<String> parts = new ArrayList<>();
      for (Object item : items) parts.add(item == null ? "null" : q(item.toString()));
      text = "[" + String.join(",", parts) + "]";
    } else text = o.toString();
    // getString of a bytea in binary mode is the byte[]'s identity: skip it.
    String str = o instanceof byte[] ? text : rs.getString(i);
    return "[" + q(o.getClass().getName()) + "," + q(text) + "," + q(str) + "]";
  }

  static String rows(ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    List<String> cols = new ArrayList<>();
    for (int i = 1; i <= md.getColumnCount(); i++) {
      cols.add("[" + q(md.getColumnLabel(i)) + "," + q(md.getColumnTypeName(i)) + "]");
    }
    List<String> out = new ArrayList<>();
    while (rs.next()) {
      List<String> row = new ArrayList<>();
      for (int i = 1; i <= md.getColumnCount(); i++) row.add(value(rs, i));
      out.add("[" + String.join(",", row) + "]");
    }
    return "{\"columns\":[" + String.join(",", cols) + "],\"rows\":[" + String.join(",", out) + "]}";
  }

  static long localCount() throws Exception {
    if (metrics == null) return 0;
    try (InputStream in = new URL(metrics).openStream()) {
      String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Matcher m = Pattern.compile("^outpost_statements_total\\{route=\"local\"\\} (\\d+)", Pattern.MULTILINE).matcher(body);
      return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
  }

  interface Step {
    String run() throws Exception;
  }

  /** JDBC always uses the extended protocol, so routes come from Outpost's local counter. */
  static void step(String name, Step s) throws Exception {
    long before = localCount();
    results.put(name, s.run());
    if (metrics != null) routes.put(name, localCount() > before ? "local" : "not local");
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    metrics = args.length > 2 ? args[2] : null;
    String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres&password=postgres"
        + "&sslmode=disable&prepareThreshold=1&binaryTransfer=true";
    try (Connection conn = DriverManager.getConnection(url)) {
      PreparedStatement join = conn.prepareStatement(
          "select c.name, o.id, o.qty, p.price, o.placed_at, o.note from orders o"
              + " join customers c on c.id = o.customer_id join products p on p.id = o.product_id"
              + " where o.qty >= ? and c.vip = ? order by o.id desc limit ?");
      // Run three times: the first describes and prepares server-side, the
      // next ones reuse the named statement with binary results.
      for (int i = 0; i < 3; i++) {
        final int n = i;
        step("join_" + i, () -> {
          join.setInt(1, 1 + n);
          join.setBoolean(2, true);
          join.setLong(3, 3);
          try (ResultSet rs = join.executeQuery()) {
            return rows(rs);
          }
        });
      }
      PreparedStatement types = conn.prepareStatement(
          "select id, name, price, stock, active, tags, attrs, image, released, weight from products"
              + " where id = any(?) order by id");
      for (int i = 0; i < 3; i++) {
        step("types_" + i, () -> {
          types.setArray(1, conn.createArrayOf("int4", new Integer[] {1, 2, 3, 4}));
          try (ResultSet rs = types.executeQuery()) {
            return rows(rs);
          }
        });
      }
      PreparedStatement customers = conn.prepareStatement(
          "select id, name, email, vip, created_at from customers where created_at < ? order by created_at");
      for (int i = 0; i < 3; i++) {
        step("timestamps_" + i, () -> {
          customers.setObject(1, java.time.OffsetDateTime.parse("2025-01-01T00:00:00Z"));
          try (ResultSet rs = customers.executeQuery()) {
            return rows(rs);
          }
        });
      }
      step("aggregate", () -> {
        try (Statement st = conn.createStatement();
            ResultSet rs = st.executeQuery(
                "select customer_id, count(*), sum(qty), avg(qty) from orders group by customer_id order by customer_id")) {
          return rows(rs);
        }
      });
      // Writes (forwarded), then read back and clean up.
      step("insert", () -> {
        try (PreparedStatement ins = conn.prepareStatement(
            "insert into orders values (?, ?, ?, ?, ?, ?) returning *")) {
          ins.setInt(1, 920);
          ins.setInt(2, 3);
          ins.setInt(3, 2);
          ins.setInt(4, 6);
          ins.setObject(5, java.time.OffsetDateTime.parse("2024-07-01T12:30:00.5Z"));
          ins.setString(6, "jdbc");
          try (ResultSet rs = ins.executeQuery()) {
            return rows(rs);
          }
        }
      });
      step("update", () -> {
        try (PreparedStatement up = conn.prepareStatement("update orders set qty = qty + ? where id = ?")) {
          up.setInt(1, 10);
          up.setInt(2, 920);
          return String.valueOf(up.executeUpdate());
        }
      });
      step("read_back", () -> {
        try (PreparedStatement rb = conn.prepareStatement("select id, qty, note from orders where id = ?")) {
          rb.setInt(1, 920);
          try (ResultSet rs = rb.executeQuery()) {
            return rows(rs);
          }
        }
      });
      conn.setAutoCommit(false);
      step("tx", () -> {
        try (PreparedStatement up = conn.prepareStatement("update orders set note = ? where id = ?")) {
          up.setString(1, "in tx");
          up.setInt(2, 920);
          up.executeUpdate();
        }
        try (Statement st = conn.createStatement();
            ResultSet rs = st.executeQuery("select note from orders where id = 920")) {
          return rows(rs);
        }
      });
      conn.rollback();
      conn.setAutoCommit(true);
      step("delete", () -> {
        try (Statement st = conn.createStatement()) {
          return String.valueOf(st.executeUpdate("delete from orders where id = 920"));
        }
      });
      step("error", () -> {
        try (Statement st = conn.createStatement()) {
          st.executeQuery("select * from no_such_table");
          return "no error";
        } catch (SQLException e) {
          return e.getSQLState();
        }
      });
    }
    StringBuilder out = new StringBuilder("{\"results\":{");
    int i = 0;
    for (Map.Entry<String, String> e : results.entrySet()) {
      if (i++ > 0) out.append(',');
      out.append(q(e.getKey())).append(':').append(q(e.getValue()));
    }
    out.append("},\"routes\":{");
    i = 0;
    for (Map.Entry<String, String> e : routes.entrySet()) {
      if (i++ > 0) out.append(',');
      out.append(q(e.getKey())).append(':').append(q(e.getValue()));
    }
    out.append("}}");
    System.out.println(out);
  }
}
