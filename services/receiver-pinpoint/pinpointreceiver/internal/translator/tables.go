package translator

import (
	"strconv"

	"github.com/tracekit/tracekit/libs/spanmodel"
)

// serviceTypeNames names the Pinpoint service types agents report most (Pinpoint's
// ServiceType registry); an unknown code is printed as "Unknown", as DataKit does.
var serviceTypeNames = map[int32]string{
	-1: "UNDEFINED", 1: "UNKNOWN", 2: "USER", 3: "UNKNOWN_GROUP", 5: "TEST", 7: "COLLECTOR",
	100: "ASYNC", 500: "SDK", 510: "SDK_ASYNC",
	1000: "STAND_ALONE", 1010: "TOMCAT", 1011: "TOMCAT_METHOD", 1030: "JETTY", 1031: "JETTY_METHOD",
	1040: "JBOSS", 1060: "WEBSPHERE", 1070: "WEBLOGIC", 1100: "THRIFT_SERVER", 1110: "DUBBO_PROVIDER",
	1120: "UNDERTOW", 1130: "GRPC_SERVER", 1140: "REACTOR_NETTY", 1400: "NODE", 1401: "NODE_METHOD",
	1500: "PHP", 1501: "PHP_METHOD", 1700: "PYTHON", 1701: "PYTHON_METHOD", 1800: "GO", 1801: "GO_FUNCTION",
	2050: "UNKNOWN_DB", 2051: "UNKNOWN_DB_EXECUTE_QUERY", 2100: "MYSQL", 2101: "MYSQL_EXECUTE_QUERY",
	2150: "MARIADB", 2151: "MARIADB_EXECUTE_QUERY", 2200: "MSSQL", 2201: "MSSQL_EXECUTE_QUERY",
	2300: "ORACLE", 2301: "ORACLE_EXECUTE_QUERY", 2500: "POSTGRESQL", 2501: "POSTGRESQL_EXECUTE_QUERY",
	2600: "CASSANDRA", 2601: "CASSANDRA_EXECUTE_QUERY", 2650: "MONGO", 2651: "MONGO_EXECUTE_QUERY",
	2750: "H2", 2751: "H2_EXECUTE_QUERY",
	5000: "INTERNAL_METHOD", 5050: "SPRING", 5051: "SPRING_MVC", 5071: "SPRING_BEAN", 5510: "MYBATIS",
	6001: "THREAD_ASYNC", 6050: "DBCP", 6060: "HIKARICP",
	8050: "MEMCACHED", 8100: "ARCUS", 8200: "REDIS", 8201: "REDIS_LETTUCE", 8203: "REDIS_REDISSON",
	8280: "ETCD", 8300: "RABBITMQ", 8310: "ACTIVEMQ_CLIENT", 8660: "KAFKA_CLIENT", 8800: "HBASE_CLIENT",
	9050: "HTTP_CLIENT_3", 9052: "HTTP_CLIENT_4", 9055: "JDK_HTTPURLCONNECTOR", 9056: "ASYNC_HTTP_CLIENT",
	9058: "OK_HTTP_CLIENT", 9100: "THRIFT_CLIENT", 9110: "DUBBO_CONSUMER", 9140: "REST_TEMPLATE",
	9150: "NETTY", 9160: "GRPC", 9161: "GRPC_INTERNAL", 9203: "ELASTICSEARCH",
	9204: "ELASTICSEARCH_HIGHLEVEL_CLIENT", 9401: "GO_HTTP_CLIENT", 9700: "PHP_REMOTE_METHOD",
	9900: "PYTHON_REMOTE_METHOD",
}

func serviceTypeName(code int32) string {
	if n, ok := serviceTypeNames[code]; ok {
		return n
	}
	return "Unknown"
}

// sourceTypeOf maps a service type to DataKit's source_type by the ranges of Pinpoint's
// registry (servers 1000-1999, their methods ending in a non-zero digit, databases 2000-2999, libraries 5000-7999, cache/file/queue
// libraries 8000-8999, RPC clients 9000-9999). DataKit prints the type name instead, which
// no source_type consumer understands (see the package doc).
func sourceTypeOf(code int32) string {
	switch {
	case code == 1000 || code == 1005:
		return spanmodel.SourceTypeCustom
	case code >= 1000 && code < 2000 && code%10 != 0:
		// TOMCAT_METHOD, GO_FUNCTION, ...: code inside a server, not the server itself.
		return spanmodel.SourceTypeFramework
	case code >= 1000 && code < 2000:
		return spanmodel.SourceTypeWeb
	case code >= 2000 && code < 3000:
		return spanmodel.SourceTypeDB
	case code >= 5000 && code < 8000:
		return spanmodel.SourceTypeFramework
	case code == 8300 || code == 8310 || code == 8311 || code == 8660 || code == 8661:
		return spanmodel.SourceTypeMessageQueue
	case code >= 8000 && code < 9000:
		return spanmodel.SourceTypeCache
	case code >= 9000 && code < 10000:
		return spanmodel.SourceTypeWeb
	default:
		return spanmodel.SourceTypeCustom
	}
}

// Annotation keys with a meaning for the conversion.
const (
	annoAPI              = 12
	annoSQLID            = 20
	annoSQLUID           = 25
	annoHTTPURL          = 40
	annoHTTPStatusCode   = 46
	annoExceptionChainID = -52
)

// annotationNames are Pinpoint's annotation keys (AnnotationKey registry) as tag names; dots
// are already underscores because DataKit rewrites them in point keys anyway.
var annotationNames = map[int32]string{
	-1: "args[0]", -2: "args[1]", -3: "args[2]", -4: "args[3]", -5: "args[4]", -11: "args[N]",
	-50: "Exception", -51: "ExceptionClass", annoExceptionChainID: "ExceptionChainId", -100: "Asynchronous Invocation",
	annoAPI: "API", 13: "API_METADATA", 14: "RETURN_DATA",
	annoSQLID: "SQL-ID", 21: "SQL", 22: "SQL-METADATA", 23: "SQL-PARAM", 24: "SQL-BindValue", annoSQLUID: "SQL-UID",
	30: "STRING_ID", annoHTTPURL: "http_url", 41: "http_param", 42: "http_entity", 45: "http_cookie",
	annoHTTPStatusCode: "http_status_code", 47: "http_req_header", 48: "http_internal_display", 49: "http_io",
	55: "http_resp_header", 80: "thrift_url", 90: "dubbo_args", 91: "dubbo_result", 100: "message_queue_url",
	140: "kafka_topic", 141: "kafka_partition", 142: "kafka_offset", 150: "mongo_json_data",
	151: "mongo_collection_info", 160: "grpc_status", 173: "es_dsl", 300: "PROXY_HTTP_HEADER",
	310: "REDIS_IO", 320: "hbase_client_params", 923: "marker_message",
}

func annotationName(key int32) string {
	if n, ok := annotationNames[key]; ok {
		return n
	}
	// DataKit names every unknown key "Unknown", so they overwrite each other.
	return "annotation_" + strconv.Itoa(int(key))
}
