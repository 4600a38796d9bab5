public enum EpilogueGateway {}
