public enum EpilogueStorePlaceholder {}
